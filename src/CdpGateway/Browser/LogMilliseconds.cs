namespace CdpGateway.Browser;

/// <summary>Durations as the supervisor logs them: milliseconds to a tenth, enough to compare runs without timer noise.</summary>
internal static class LogMilliseconds
{
    public static double? Of(TimeSpan? span) => span is { } s ? Math.Round(s.TotalMilliseconds, 1) : null;
}
