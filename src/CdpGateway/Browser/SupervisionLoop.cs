using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// The one task that makes every start and stop decision, so no two launches ever race: it waits on the running
/// browser, a restart request and shutdown, then stops, kills, takes the crash, backs off and launches again.
/// </summary>
internal sealed class SupervisionLoop(
    SupervisionState state, ChromiumLauncher launcher, ChromiumExitRecorder exits, CrashBackoff backoff, RestartRequests requests,
    TimeProvider time, ILogger logger, Task shutdownRequested, CancellationToken shutdown)
{
    /// <summary>How long a launched browser may take to be ready before it is killed as hung.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public async Task RunAsync(LaunchedChromium? running)
    {
        try
        {
            await LoopAsync(running).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Never expected; without this the gateway would silently stop supervising.
            logger.LogCritical(e, "Chromium supervision failed");
            state.Abandon(e.Message);
        }
    }

    private async Task LoopAsync(LaunchedChromium? running)
    {
        while (true)
        {
            var request = requests.Pending;
            if (running is not null)
            {
                var hung = await WaitWhileRunningAsync(running, request).ConfigureAwait(false);
                if (shutdownRequested.IsCompleted)
                {
                    await exits.StopAsync(running, ChromiumExitCause.Shutdown).ConfigureAwait(false);
                    await running.CleanedUp.ConfigureAwait(false);
                    return;
                }
                if (request.IsCompleted && !running.Exited.IsCompleted)
                {
                    TakeRestartRequest();
                    state.Replacing(running);
                    state.SetState(ChromiumState.Restarting);
                    await exits.StopAsync(running, ChromiumExitCause.Restart).ConfigureAwait(false);
                    running = launcher.TryLaunch();
                    continue;
                }
                if (hung)
                {
                    await exits.KillHungAsync(running).ConfigureAwait(false);
                }
                else
                {
                    await exits.RecordCrashAsync(running, reason: null).ConfigureAwait(false);
                }
            }
            else
            {
                state.RecordFailedLaunch(backoff);
            }

            await backoff.WaitAsync(request, shutdownRequested, shutdown).ConfigureAwait(false);
            if (shutdownRequested.IsCompleted)
            {
                state.SetState(ChromiumState.Stopped);
                return;
            }
            if (request.IsCompleted)
            {
                TakeRestartRequest();
                state.SetState(ChromiumState.Restarting);
            }
            running = launcher.TryLaunch();
        }
    }

    /// <summary>An operator's restart starts afresh, without the backoff of the crashes before it.</summary>
    private void TakeRestartRequest()
    {
        requests.Take();
        backoff.Reset();
    }

    /// <summary>
    /// Waits until the browser exits, a restart or shutdown is asked for, or (true) it has not become ready (its
    /// DevTools line, then an answer to <c>Browser.getVersion</c>) within <see cref="StartTimeout"/> of its launch.
    /// </summary>
    private async Task<bool> WaitWhileRunningAsync(LaunchedChromium running, Task request)
    {
        if (running.Ready.IsCompleted)
        {
            await Task.WhenAny(running.Exited, request, shutdownRequested).ConfigureAwait(false);
            return false;
        }
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        var remaining = StartTimeout - time.GetElapsedTime(running.StartedAt);
        var timer = remaining > TimeSpan.Zero ? Task.Delay(remaining, time, cancel.Token) : Task.CompletedTask;
        // Published after the timer exists, so whoever reads it and moves a test clock moves this timer.
        state.StartDeadline = running.StartedAt + (long)(StartTimeout.TotalSeconds * time.TimestampFrequency);
        try
        {
            var first = await Task.WhenAny(running.Exited, request, shutdownRequested, running.Ready, timer).ConfigureAwait(false);
            if (first == running.Ready && !running.Exited.IsCompleted && !request.IsCompleted && !shutdownRequested.IsCompleted)
            {
                state.StartDeadline = null;
                // Ready in time: the start timeout is over, its timer disarmed (so a test clock can tell it never fires).
                await cancel.CancelAsync().ConfigureAwait(false);
                await Task.WhenAny(running.Exited, request, shutdownRequested).ConfigureAwait(false);
                return false;
            }
            return timer.IsCompleted && !running.Ready.IsCompleted
                && !running.Exited.IsCompleted && !request.IsCompleted && !shutdownRequested.IsCompleted;
        }
        finally
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            state.StartDeadline = null;
        }
    }
}
