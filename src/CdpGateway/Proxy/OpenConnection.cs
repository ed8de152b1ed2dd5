using CdpGateway.Telemetry.Commands;

namespace CdpGateway.Proxy;

/// <summary>One open client connection as <see cref="OpenConnections"/> holds it.</summary>
/// <param name="target">What <c>cdp_connect</c> reports as <c>target</c>: <c>browser</c> or <c>page</c>.</param>
/// <param name="targetId">The DevTools target's id from the path (<c>/devtools/page/ID</c>), none for the browser.</param>
/// <param name="client">The client's address and port, as <c>cdp_connect</c> reports it.</param>
/// <param name="fromClient">Written by the client-to-browser relay; readable at any time.</param>
/// <param name="fromUpstream">Written by the browser-to-client relay; readable at any time.</param>
public sealed class OpenConnection(string connectionId, string target, string? targetId, string? client, DateTimeOffset connectedAt,
    RelayCounters fromClient, RelayCounters fromUpstream)
{
    private const int Open = 0;
    private const int CloseAsked = 1;
    private const int Ending = 2;

    // Both complete once; their continuations run on the pool, never inside the relay or the unregistering lock.
    private readonly TaskCompletionSource _closeRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CdpCommandRecorder? _commands;
    private AttachedSessions? _sessions;
    private int _phase;

    public string ConnectionId { get; } = connectionId;
    public string Target { get; } = target;
    public string? TargetId { get; } = targetId;

    /// <summary>The page's target id for a page connection; none for the browser endpoint.</summary>
    public string? PageId => Target == UpgradeTarget.PageKind ? TargetId : null;
    public string? Client { get; } = client;
    public DateTimeOffset ConnectedAt { get; } = connectedAt;
    public RelayCounters FromClient { get; } = fromClient;
    public RelayCounters FromUpstream { get; } = fromUpstream;

    /// <summary>What the relay has counted so far (each figure read once, lock-free).</summary>
    public RelayTraffic Traffic => new(FromClient.Messages, FromUpstream.Messages, FromClient.Bytes, FromUpstream.Bytes);

    /// <summary>
    /// <c>cdp_command</c> events published for this connection so far: counted by the command worker as it publishes,
    /// so never ahead of the events themselves.
    /// </summary>
    public long CommandsReported => Volatile.Read(ref _commands)?.Reported ?? 0;

    /// <summary>
    /// The flattened sessions Chromium announced to this client and their targets, kept only with <c>--live-view</c>
    /// (<see cref="TargetAttachTap"/>); null otherwise.
    /// </summary>
    public AttachedSessions? Sessions => Volatile.Read(ref _sessions);

    /// <summary>Completes when an operator asked for this connection to be closed (<see cref="RequestClose"/>).</summary>
    public Task CloseRequested => _closeRequested.Task;

    /// <summary>Completes as the connection's <c>cdp_disconnect</c> is published.</summary>
    public Task Ended => _ended.Task;

    /// <summary>Gives the entry the connection's command recorder once the relay starts, for <see cref="CommandsReported"/>.</summary>
    internal void AttachCommands(CdpCommandRecorder commands) => Volatile.Write(ref _commands, commands);

    /// <summary>Gives the entry the session map the browser-to-client relay keeps, for <see cref="Sessions"/>.</summary>
    internal void AttachSessions(AttachedSessions sessions) => Volatile.Write(ref _sessions, sessions);

    /// <summary>
    /// Asks the connection's handler to close it. False when it was asked already, or is already ending on its own:
    /// then this request changes nothing.
    /// </summary>
    public bool RequestClose()
    {
        if (Interlocked.CompareExchange(ref _phase, CloseAsked, Open) != Open)
        {
            return false;
        }
        _closeRequested.TrySetResult();
        return true;
    }

    /// <summary>The handler saw the connection end (by whatever came first); a later close request is refused.</summary>
    internal void MarkEnding() => Interlocked.CompareExchange(ref _phase, Ending, Open);

    internal void MarkEnded() => _ended.TrySetResult();
}
