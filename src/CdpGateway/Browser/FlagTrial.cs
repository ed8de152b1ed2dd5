namespace CdpGateway.Browser;

/// <summary>
/// Flags not yet seen to start a browser: launches after <paramref name="AfterGeneration"/> use them, and one that
/// fails before it is ready puts <paramref name="Fallback"/> back (persisting it when <paramref name="Persisted"/>).
/// </summary>
internal sealed record FlagTrial(IReadOnlyList<string> Fallback, long AfterGeneration, bool Persisted)
{
    /// <summary>Completes with the reason when the flags failed, so an operator's change can say why.</summary>
    public TaskCompletionSource<string> Failed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
