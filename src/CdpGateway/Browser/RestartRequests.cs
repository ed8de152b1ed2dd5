using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// Operators' restarts and flag changes. They are serialized, so two requests never interleave their flags or
/// their waits; each only signals the supervision loop (<see cref="Pending"/>), which alone stops and launches,
/// and then waits until a newer browser is ready.
/// </summary>
internal sealed class RestartRequests(
    SupervisionState state, LaunchFlags flags, BrowserReadiness readiness, DevToolsUrlTracker tracker, TimeProvider time, ILogger logger,
    Action throwIfDisposed, Func<ChromiumStatus> status, CancellationToken shutdown)
{
    private readonly SemaphoreSlim _serial = new(1, 1);
    private TaskCompletionSource _request = NewSignal();

    /// <summary>Completes when a restart is asked for that the loop has not taken yet.</summary>
    public Task Pending => Volatile.Read(ref _request).Task;

    /// <summary>The loop takes the request it acts on; one made after this waits for the next turn.</summary>
    public void Take() => Interlocked.Exchange(ref _request, NewSignal());

    public async Task<ChromiumRestartResult> RestartAsync(CancellationToken cancellationToken)
    {
        await _serial.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RestartAndWaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _serial.Release();
        }
    }

    public async Task<ChromiumRestartResult> ChangeFlagsAsync(IReadOnlyList<string> changes, bool replace, CancellationToken cancellationToken)
    {
        await _serial.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (flags.Change(changes, replace, state.Generation, out var current) is not { } trial)
            {
                return new ChromiumRestartResult(tracker.Current, readiness.ReadyGeneration, TimeSpan.Zero, current, Restarted: false);
            }
            return await RestartAndWaitAsync(cancellationToken, trial.Failed.Task).ConfigureAwait(false);
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>
    /// Asks the loop to restart and waits until a newer generation is ready. When <paramref name="flagsFailed"/>
    /// completes first, the new flags kept Chromium from starting and the loop went back to the previous ones: the
    /// wait goes on for the browser with those, then throws <see cref="ChromiumFlagsFailedException"/>.
    /// </summary>
    private async Task<ChromiumRestartResult> RestartAndWaitAsync(CancellationToken cancellationToken, Task<string>? flagsFailed = null)
    {
        throwIfDisposed();
        var started = time.GetTimestamp();
        var before = state.Generation;
        Volatile.Read(ref _request).TrySetResult();
        using var limit = new CancellationTokenSource(BrowserReadiness.Limit, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancellationToken, shutdown);
        var ready = readiness.WaitReadyAfterAsync(before, linked.Token);
        if (flagsFailed is not null && await Task.WhenAny(ready, flagsFailed).ConfigureAwait(false) == flagsFailed)
        {
            var reason = await flagsFailed.ConfigureAwait(false);
            string restored;
            try
            {
                // Only a browser with the previous flags can become ready now: the failed one never did.
                await ready.ConfigureAwait(false);
                restored = "Chromium runs with them again";
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                restored = $"Chromium was not ready with them within {BrowserReadiness.Limit.TotalSeconds:0} s of the change";
            }
            var previous = flags.Current;
            throw new ChromiumFlagsFailedException(
                $"Chromium did not start with the new flags: {reason}. The previous flags ({(previous.Count == 0 ? "none" : FlagPolicy.Names(previous))}) " +
                $"are restored and persisted; {restored}", status());
        }
        try
        {
            var (generation, url) = await ready.ConfigureAwait(false);
            var end = time.GetTimestamp();
            var elapsed = time.GetElapsedTime(started, end);
            var (stopped, run) = state.RestartRuns();
            var phases = RestartPhasesMeasure.Measure(time, started, end, generation, stopped, run);
            Log(elapsed, phases, url);
            return new ChromiumRestartResult(url, generation, elapsed, flags.Current, Restarted: true) { Phases = phases };
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ChromiumNotReadyException(
                $"Chromium was not ready within {BrowserReadiness.Limit.TotalSeconds:0} s of the restart", status());
        }
    }

    private void Log(TimeSpan elapsed, RestartPhases? phases, string url)
    {
        if (phases is null)
        {
            logger.LogInformation("Chromium restarted and ready in {Elapsed} ms: {Url}", LogMilliseconds.Of(elapsed), url);
            return;
        }
        logger.LogInformation(
            "Chromium restarted and ready in {Elapsed} ms: stop {Stop} ms, launch to DevTools line {Launch} ms, " +
            "DevTools line to Browser.getVersion {Ready} ms, gateway {Gateway} ms (request to stop {RequestToStop} ms, " +
            "stopped to launch {StoppedToLaunch} ms, ready to answer {ReadyToAnswer} ms): {Url}",
            LogMilliseconds.Of(elapsed), LogMilliseconds.Of(phases.Stop), LogMilliseconds.Of(phases.LaunchToDevTools),
            LogMilliseconds.Of(phases.DevToolsToReady), LogMilliseconds.Of(phases.Gateway), LogMilliseconds.Of(phases.RequestToStop),
            LogMilliseconds.Of(phases.StoppedToLaunch), LogMilliseconds.Of(phases.ReadyToAnswer), url);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
