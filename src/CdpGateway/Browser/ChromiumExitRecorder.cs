using CdpGateway.Telemetry;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// Ends browsers and takes their ends: stops one on purpose with its process group, or kills one that never became
/// ready, or takes a crash; then records the exit in the status, counts it for the backoff, puts back flags on trial
/// that kept it from starting, logs it and publishes <c>chromium_exited</c>.
/// </summary>
internal sealed class ChromiumExitRecorder(
    SupervisionState state, CrashBackoff backoff, LaunchFlags flags, BrowserReadiness readiness, IEventPublisher events, TimeProvider time, ILogger logger)
{
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(3);

    /// <summary>Stops the browser on purpose (restart or shutdown): not a crash, so no backoff.</summary>
    public async Task StopAsync(LaunchedChromium running, string cause)
    {
        readiness.MarkNotReady();
        if (cause == ChromiumExitCause.Shutdown)
        {
            state.SetState(ChromiumState.Stopped);
        }
        logger.LogInformation("Stopping Chromium (pid {Pid}) for {Cause}", running.Pid, cause);
        var code = await running.StopAsync(StopGrace).ConfigureAwait(false);
        var exit = RecordExit(running, code, cause, reason: null);
        if (cause == ChromiumExitCause.Restart)
        {
            state.StoppedForRestart(running);
        }
        logger.LogInformation("Chromium (pid {Pid}) stopped ({Status}) after {Uptime} ms; its group was gone {Stop} ms after the stop signal",
            running.Pid, Describe(exit), exit.UptimeMs,
            running is { StopSentAt: { } sent, GoneAt: { } gone } ? LogMilliseconds.Of(time.GetElapsedTime(sent, gone)) : null);
        Publish(exit, backoff: null, crashLoop: null);
    }

    /// <summary>
    /// A browser that never became ready (no DevTools line, or a line but no answer to <c>Browser.getVersion</c>):
    /// killed with its group, recorded as a crash, retried with the backoff.
    /// </summary>
    public async Task KillHungAsync(LaunchedChromium running)
    {
        var timeout = SupervisionLoop.StartTimeout;
        var (what, reason) = running.Announced.IsCompleted
            ? ("answered", $"no Browser.getVersion within {timeout.TotalSeconds:0} s")
            : ("printed", $"no DevTools line within {timeout.TotalSeconds:0} s");
        logger.LogError("Chromium (pid {Pid}) {What} {Reason} of its launch; killing its process group", running.Pid, what, reason);
        readiness.MarkNotReady();
        await running.ReapAsync().ConfigureAwait(false);
        state.SetLastError($"Chromium {what} {reason} of its launch");
        await RecordCrashAsync(running, reason).ConfigureAwait(false);
    }

    /// <summary>
    /// A browser that ended without being asked to, or was killed for <paramref name="reason"/>: waits for its end
    /// and its group, then counts it for the backoff.
    /// </summary>
    public async Task RecordCrashAsync(LaunchedChromium running, string? reason)
    {
        readiness.MarkNotReady();
        state.SetState(ChromiumState.Backoff); // at once: /health must not call a dead browser ready while its group is reaped
        var code = await running.Exited.ConfigureAwait(false);
        if (!running.WasReady)
        {
            // While it is still the current browser, whose lines are kept: they say why it did not start.
            await running.WaitForOutputAsync().ConfigureAwait(false);
        }
        await running.ReapAsync().ConfigureAwait(false);
        var exit = RecordExit(running, code, ChromiumExitCause.Crash, reason);
        if (!running.WasReady)
        {
            // Before the backoff, so the next launch already goes without the flags that kept this one from starting.
            flags.Fail(running.Generation, reason is null ? NotReadyReason(running, exit) : $"{reason} of its launch");
        }
        var count = state.RecordCrash(backoff, healthy: running.WasReady && exit.UptimeMs >= CrashBackoff.HealthyUptime.TotalMilliseconds);
        var next = (long)count.Backoff.TotalMilliseconds;
        if (reason is not null)
        {
            logger.LogError("Chromium (pid {Pid}) killed ({Status}) after {Uptime} ms: {Reason}; {Loop}next start in {Backoff} ms",
                running.Pid, Describe(exit), exit.UptimeMs, reason, count.CrashLoop ? $"crash loop ({count.InARow} in a row); " : "", next);
        }
        else if (count.CrashLoop)
        {
            logger.LogError("Chromium (pid {Pid}) exited unexpectedly ({Status}) after {Uptime} ms: crash loop ({Count} in a row); next start in {Backoff} ms",
                running.Pid, Describe(exit), exit.UptimeMs, count.InARow, next);
        }
        else
        {
            logger.LogWarning("Chromium (pid {Pid}) exited unexpectedly ({Status}) after {Uptime} ms; next start in {Backoff} ms",
                running.Pid, Describe(exit), exit.UptimeMs, next);
        }
        Publish(exit, count.Backoff, count.CrashLoop);
    }

    /// <summary>Why a browser that never became ready ended, with its last line of output when it printed one.</summary>
    private string NotReadyReason(LaunchedChromium running, ChromiumExit exit)
    {
        var line = state.LastOutputLineOf(running);
        var said = string.IsNullOrWhiteSpace(line) ? "" : $"; its last output: {(line.Length > 300 ? line[..300] + "..." : line)}";
        var stage = running.Announced.IsCompleted ? "after announcing DevTools but before answering Browser.getVersion" : "without announcing DevTools";
        return $"Chromium exited ({Describe(exit)}) after {exit.UptimeMs} ms {stage}{said}";
    }

    private ChromiumExit RecordExit(LaunchedChromium running, int dotnetExitCode, string cause, string? reason)
    {
        var (exitCode, signal) = ChromiumExit.Describe(dotnetExitCode);
        var exit = new ChromiumExit(running.Pid, running.Generation, exitCode, signal,
            (long)time.GetElapsedTime(running.StartedAt).TotalMilliseconds, cause, time.GetUtcNow(), reason);
        state.RecordExit(running, exit);
        return exit;
    }

    private void Publish(ChromiumExit exit, TimeSpan? backoff, bool? crashLoop) =>
        events.Publish(ChromiumEventTypes.Exited, EventCategory.System, new ChromiumExitedData
        {
            Pid = exit.Pid,
            Generation = exit.Generation,
            ExitCode = exit.ExitCode,
            Signal = exit.Signal,
            UptimeMs = exit.UptimeMs,
            Cause = exit.Cause,
            BackoffMs = backoff?.TotalMilliseconds,
            CrashLoop = crashLoop,
        }, TelemetryJsonContext.Default.ChromiumExitedData);

    private static string Describe(ChromiumExit exit) => exit.Signal ?? $"exit code {exit.ExitCode}";
}
