namespace CdpGateway.Browser;

/// <summary>Where a restart's time went (see <see cref="RestartPhases"/>), from the timestamps its browsers recorded.</summary>
internal static class RestartPhasesMeasure
{
    /// <summary>
    /// Splits a restart (<paramref name="started"/> to <paramref name="end"/>) into Chromium's phases and the
    /// gateway's steps between them; null when the ready browser is not the one this restart launched.
    /// </summary>
    public static RestartPhases? Measure(TimeProvider time, long started, long end, long generation, LaunchedChromium? stopped, LaunchedChromium? run)
    {
        if (run is null || run.Generation != generation || run.AnnouncedAt is not { } announced || run.AnsweredAt is not { } answered
            || run.AnnouncedToAnswered(time) is not { } devToolsToReady || run.StartedAt < started)
        {
            return null;
        }
        var launchToDevTools = time.GetElapsedTime(run.StartedAt, announced);
        var readyToAnswer = time.GetElapsedTime(answered, end);
        TimeSpan? stop = null, requestToStop = null, stoppedToLaunch = null;
        // The stop of this restart, directly followed by this launch (no failed launch or crash in between).
        if (stopped is { StopSentAt: { } sent, GoneAt: { } gone } && stopped.Generation == generation - 1 && sent >= started)
        {
            stop = time.GetElapsedTime(sent, gone);
            requestToStop = time.GetElapsedTime(started, sent);
            stoppedToLaunch = time.GetElapsedTime(gone, run.StartedAt);
        }
        var gateway = time.GetElapsedTime(started, end) - (stop ?? TimeSpan.Zero) - launchToDevTools - devToolsToReady;
        return new RestartPhases(stop, launchToDevTools, devToolsToReady, gateway, requestToStop, stoppedToLaunch, readyToAnswer);
    }
}
