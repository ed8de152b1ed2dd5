using CdpGateway.Browser;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;
using CdpGateway.Tests.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Browser;

public sealed class ChromiumSupervisorTests : IAsyncLifetime
{
    private readonly FakeBrowsers _fakes = new();

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xUnit 2 never calls a test class's IAsyncDisposable.
    public async Task DisposeAsync() => await _fakes.DisposeAsync();

    [Fact]
    public async Task LaunchesInItsOwnProcessGroupReportsReadyAndStopsTheWholeGroupOnShutdown()
    {
        var (supervisor, events, tracker) = _fakes.Supervisor(_fakes.FakeChromium(), flags: "--some-user-flag");
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        var started = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started);
        var pid = started.GetProperty("pid").GetInt32();
        Assert.Equal(1, started.GetProperty("generation").GetInt64());
        Assert.Equal(tracker.Current, started.GetProperty("devtools_url").GetString());
        Assert.True(started.GetProperty("startup_ms").GetDouble() > 0);
        await Eventually.TrueAsync(() => supervisor.IsReady && supervisor.Status.State == ChromiumState.Ready, "ready");

        // Its own group (so stop can signal renderers and zygotes too), the gateway's flags, the user's flags.
        Assert.Equal(pid, FakeBrowsers.ProcessGroupOf(pid));
        var cmdline = FakeBrowsers.CommandLineOf(pid);
        Assert.Contains("--remote-debugging-port=0", cmdline);
        Assert.Contains("--some-user-flag", cmdline);
        Assert.Contains(FakeBrowsers.ProcessesWith("cdp-gateway-watchdog"), p => File.ReadAllText($"/proc/{p}/cmdline").Contains("cdp-gateway-watchdog"));

        await supervisor.DisposeAsync();
        var exited = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Exited);
        Assert.Equal("shutdown", exited.GetProperty("cause").GetString());
        Assert.Equal(0, exited.GetProperty("exit_code").GetInt32()); // the fake exits 0 on SIGTERM: asked, not killed
        Assert.Equal(ChromiumState.Stopped, supervisor.Status.State);
        Assert.Empty(FakeBrowsers.ProcessesWith(_fakes.DataDir));
    }

    [Fact]
    public async Task AKilledBrowserIsReportedAsACrashAndComesBackWithANewUrl()
    {
        var (supervisor, events, tracker) = _fakes.Supervisor(_fakes.FakeChromium());
        using var urls = tracker.Subscribe();
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        var first = await urls.NextAsync(FakeBrowsers.Timeout());
        var pid = supervisor.Pid!.Value;

        Posix.Kill(pid, Posix.SIGKILL);
        var exited = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Exited);
        Assert.Equal("crash", exited.GetProperty("cause").GetString());
        Assert.Equal("SIGKILL", exited.GetProperty("signal").GetString());
        Assert.Equal(250, exited.GetProperty("backoff_ms").GetDouble());
        Assert.Equal(pid, supervisor.Status.LastExit!.Pid);

        var second = await urls.NextAsync(FakeBrowsers.Timeout());
        Assert.NotEqual(first, second);
        var started = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started, 2);
        Assert.Equal(2, started.GetProperty("generation").GetInt64());
        Assert.Equal(1, supervisor.Status.Restarts);
        await Eventually.TrueAsync(() => supervisor.IsReady, "ready again");
    }

    [Fact]
    public async Task ARequestedRestartAnswersOnceTheNewBrowserIsReadyAndRestartsAreSerialized()
    {
        var (supervisor, events, tracker) = _fakes.Supervisor(_fakes.FakeChromium());
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        await Eventually.TrueAsync(() => supervisor.IsReady, "ready");
        var before = tracker.Current;

        var restarts = await Task.WhenAll(supervisor.RestartAsync(FakeBrowsers.Timeout()), supervisor.RestartAsync(FakeBrowsers.Timeout()));
        Assert.Equal([2L, 3L], restarts.Select(r => r.Generation).Order());
        Assert.DoesNotContain(before, restarts.Select(r => r.DevToolsUrl));
        Assert.NotEqual(restarts[0].DevToolsUrl, restarts[1].DevToolsUrl);
        Assert.Equal(tracker.Current, restarts.MaxBy(r => r.Generation)!.DevToolsUrl);
        Assert.True(supervisor.IsReady);

        var exits = FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Exited);
        Assert.Equal(["restart", "restart"], exits.Select(e => e.GetProperty("cause").GetString()));
        Assert.Equal([1L, 2L], exits.Select(e => e.GetProperty("generation").GetInt64()));
        Assert.Equal(0, supervisor.Status.ConsecutiveCrashes);
    }

    [Fact]
    public async Task ARestartReportsItsPhasesWhichAddUpToItsElapsedTimeAndLogsThem()
    {
        var logger = new RecordingLogger<ChromiumSupervisor>();
        // A fake that takes a noticeable while to announce itself, so the phases are not all near zero.
        var (supervisor, _, _) = _fakes.Supervisor(_fakes.FakeChromium("export FAKE_CHROMIUM_STARTUP_DELAY_MS=150\n"), logger: logger);
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        await Eventually.TrueAsync(() => supervisor.IsReady, "ready");

        var restart = await supervisor.RestartAsync(FakeBrowsers.Timeout());

        var phases = restart.Phases;
        Assert.NotNull(phases);
        Assert.NotNull(phases.Stop);
        Assert.True(phases.Stop > TimeSpan.Zero);
        Assert.True(phases.LaunchToDevTools >= TimeSpan.FromMilliseconds(150), $"launch to DevTools line {phases.LaunchToDevTools}");
        Assert.True(phases.DevToolsToReady > TimeSpan.Zero);
        Assert.True(phases.Gateway >= TimeSpan.Zero);
        // The gateway's steps make up its share (to the tick rounding of each span).
        var steps = phases.RequestToStop!.Value + phases.StoppedToLaunch!.Value + phases.ReadyToAnswer;
        Assert.True((phases.Gateway - steps).Duration() < TimeSpan.FromMilliseconds(0.01), $"{phases.Gateway} vs {steps}");
        Assert.Equal(restart.Elapsed, phases.Stop.Value + phases.LaunchToDevTools + phases.DevToolsToReady + phases.Gateway);
        Assert.Contains(logger.Entries, e => e.Message.StartsWith("Chromium restarted and ready in ", StringComparison.Ordinal)
            && e.Message.Contains("launch to DevTools line", StringComparison.Ordinal) && e.Message.Contains("gateway ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ABrowserThatPrintsNoDevtoolsLineIsKilledAfterTheStartTimeoutAndRetriedWithBackoff()
    {
        var clock = new WatchedClock();
        var logger = new RecordingLogger<ChromiumSupervisor>();
        // Never prints anything; has a child, which the kill must take too.
        var mute = _fakes.Script("sleep 600 &\nwait");
        var (supervisor, events, tracker) = _fakes.Supervisor(mute, clock, logger: logger);
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        var timeoutEnds = clock.GetUtcNow() + ChromiumSupervisor.StartTimeout; // the clock stands still until the test moves it
        var pid = supervisor.Pid!.Value;
        await Eventually.TrueAsync(() => supervisor.StartDeadline is not null, "the start timeout armed");
        await Eventually.TrueAsync(() => FakeBrowsers.ProcessesWith("600").Any(p => FakeBrowsers.ProcessGroupOf(p) == pid), "the child");
        var startTimeout = clock.SinglePendingAt(timeoutEnds, "the start timeout");

        // Patience up to the last tick: the start timeout has not fired, so still starting, nothing killed.
        clock.Advance(ChromiumSupervisor.StartTimeout - TimeSpan.FromMilliseconds(1));
        Assert.True(startTimeout.IsPending, "the start timeout fired before its time");
        Assert.Empty(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Exited));
        Assert.Equal(ChromiumState.Starting, supervisor.Status.State);
        Assert.Equal(pid, supervisor.Pid);

        // Then the group is killed, the exit is a crash with its reason, and the next start waits out the backoff.
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(startTimeout.HasFired, "the start timeout did not fire at its time");
        var exited = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Exited);
        Assert.Equal("crash", exited.GetProperty("cause").GetString());
        Assert.Equal("SIGKILL", exited.GetProperty("signal").GetString());
        Assert.Equal(250, exited.GetProperty("backoff_ms").GetDouble());
        Assert.Equal(pid, exited.GetProperty("pid").GetInt32());
        Assert.DoesNotContain(FakeBrowsers.ProcessesWith("600"), p => FakeBrowsers.ProcessGroupOf(p) == pid);
        var status = supervisor.Status;
        Assert.Equal(ChromiumState.Backoff, status.State);
        Assert.Equal("no DevTools line within 60 s", status.LastExit!.Reason);
        Assert.Equal("crash", status.LastExit.Cause);
        Assert.Contains("no DevTools line within 60 s", status.LastError);
        Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Error
            && e.Message.Contains($"Chromium (pid {pid}) printed no DevTools line within 60 s", StringComparison.Ordinal));
        Assert.True(string.IsNullOrEmpty(tracker.Current)); // never announced

        await Eventually.TrueAsync(() => supervisor.Status.NextStartInMs is not null, "waiting out the backoff");
        clock.Advance(ChromiumSupervisor.InitialBackoff);
        await Eventually.TrueAsync(() => supervisor.Status.Generation == 2 && supervisor.Pid is not null, "the retry");
        Assert.NotEqual(pid, supervisor.Pid);
        Assert.Equal(1, supervisor.Status.ConsecutiveCrashes);
    }

    [Fact]
    public async Task ABrowserThatPrintsItsDevtoolsLineButNeverAnswersIsKilledAfterTheStartTimeout()
    {
        var clock = new WatchedClock();
        var logger = new RecordingLogger<ChromiumSupervisor>();
        // Announces a DevTools URL nothing listens on, then hangs: Browser.getVersion can never be answered.
        var hung = _fakes.Script($"echo \"DevTools listening on ws://127.0.0.1:{CdpGateway.Tests.Proxy.DisconnectScenarioTests.DeadPort()}/devtools/browser/hung\" >&2\nsleep 600 &\nwait");
        var (supervisor, events, tracker) = _fakes.Supervisor(hung, clock, logger: logger);
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        var timeoutEnds = clock.GetUtcNow() + ChromiumSupervisor.StartTimeout; // the clock stands still until the test moves it
        var pid = supervisor.Pid!.Value;
        await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started);
        await Eventually.TrueAsync(() => supervisor.StartDeadline is not null, "the start timeout armed");
        var startTimeout = clock.SinglePendingAt(timeoutEnds, "the start timeout");

        // The readiness probes fail and retry all along; only the start timeout ends the wait, at its time and not before.
        clock.Advance(ChromiumSupervisor.StartTimeout - TimeSpan.FromMilliseconds(1));
        Assert.True(startTimeout.IsPending, "the start timeout fired before its time");
        Assert.Empty(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Exited));
        Assert.Equal(ChromiumState.Starting, supervisor.Status.State);
        Assert.False(supervisor.IsReady);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(startTimeout.HasFired, "the start timeout did not fire at its time");
        var exited = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Exited);
        Assert.Equal("crash", exited.GetProperty("cause").GetString());
        Assert.Equal(pid, exited.GetProperty("pid").GetInt32());
        Assert.DoesNotContain(FakeBrowsers.ProcessesWith("600"), p => FakeBrowsers.ProcessGroupOf(p) == pid);
        var status = supervisor.Status;
        Assert.Equal(ChromiumState.Backoff, status.State);
        Assert.Equal("no Browser.getVersion within 60 s", status.LastExit!.Reason);
        Assert.Contains("Chromium answered no Browser.getVersion within 60 s of its launch", status.LastError);
        Assert.Contains(logger.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Error
            && e.Message.Contains($"Chromium (pid {pid}) answered no Browser.getVersion within 60 s", StringComparison.Ordinal));
        Assert.EndsWith("/devtools/browser/hung", tracker.Current);
        Assert.Empty(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Ready));
    }

    [Fact]
    public async Task ABrowserThatAnnouncedItselfInTimeIsNeverHitByTheStartTimeout()
    {
        var clock = new WatchedClock();
        var (supervisor, events, _) = _fakes.Supervisor(_fakes.FakeChromium(), clock);
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started);
        await Eventually.TrueAsync(() => supervisor.IsReady && supervisor.StartDeadline is null, "ready, with no start timeout left");
        var pid = supervisor.Pid;

        // Ready in time, the start timeout is disarmed: its timer never fires, however far the clock goes, so nothing
        // can take this browser for a hung one. (The fake clock fires a due timer inside the advance: no wait needed.)
        var startTimeout = clock.Timers.Single(t => t.DueTime == ChromiumSupervisor.StartTimeout);
        await Eventually.TrueAsync(() => !startTimeout.IsPending, "the start timeout disarmed once ready");
        clock.Advance(ChromiumSupervisor.StartTimeout * 2);
        Assert.False(startTimeout.HasFired, "the start timeout fired for a browser that was ready in time");
        Assert.Empty(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Exited));
        Assert.True(supervisor.IsReady);
        Assert.Equal(pid, supervisor.Pid);

        // And the loop still has this browser as it was: asked for a restart, it ends it as a restart, its first end.
        var restart = await supervisor.RestartAsync(FakeBrowsers.Timeout());
        Assert.Equal(2, restart.Generation);
        var exit = FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Exited).First();
        Assert.Equal("restart", exit.GetProperty("cause").GetString());
        Assert.Equal(1, exit.GetProperty("generation").GetInt64());
    }

    [Fact]
    public async Task ABrowserThatCannotStartBacksOffDoublingToTheCapAndIsReportedAsACrashLoop()
    {
        var clock = new WatchedClock();
        var (supervisor, events, _) = _fakes.Supervisor(_fakes.Script("exit 3"), clock);
        await supervisor.StartAsync(FakeBrowsers.Timeout());

        var expected = new[] { 250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000 };
        for (var i = 0; i < expected.Length; i++)
        {
            var exited = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Exited, i + 1);
            Assert.Equal(3, exited.GetProperty("exit_code").GetInt32());
            Assert.Equal("crash", exited.GetProperty("cause").GetString());
            Assert.Equal(expected[i], exited.GetProperty("backoff_ms").GetDouble());
            Assert.Equal(i + 1 >= ChromiumSupervisor.CrashLoopThreshold, exited.GetProperty("crash_loop").GetBoolean());
            await Eventually.TrueAsync(() => supervisor.Status.NextStartInMs is not null, "waiting out the backoff");
            var status = supervisor.Status;
            Assert.Equal(i + 1 >= ChromiumSupervisor.CrashLoopThreshold ? ChromiumState.CrashLoop : ChromiumState.Backoff, status.State);
            Assert.Equal(expected[i], status.NextStartInMs);

            // Nothing spins: no new start until the backoff's timer (made when the exit was taken: the clock stood
            // still since) has fired on the clock.
            var backoff = clock.SinglePendingAt(clock.GetUtcNow() + TimeSpan.FromMilliseconds(expected[i]), "the backoff");
            clock.Advance(TimeSpan.FromMilliseconds(expected[i] - 1));
            Assert.True(backoff.IsPending, "the backoff ended before its time");
            Assert.Equal(i + 1, supervisor.Status.Generation);
            clock.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(backoff.HasFired, "the backoff did not end at its time");
        }
        Assert.False(supervisor.IsReady);
        Assert.Equal(3, supervisor.Status.LastExit!.ExitCode);
    }

    [Fact]
    public async Task AMinuteOfHealthyUptimeResetsTheBackoff()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (supervisor, events, _) = _fakes.Supervisor(_fakes.FakeChromium(), clock);
        await supervisor.StartAsync(FakeBrowsers.Timeout());

        // Two quick crashes grow the backoff...
        for (var crash = 1; crash <= 2; crash++)
        {
            await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started, crash);
            Posix.Kill(supervisor.Pid!.Value, Posix.SIGKILL);
            var exited = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Exited, crash);
            Assert.Equal(crash == 1 ? 250 : 500, exited.GetProperty("backoff_ms").GetDouble());
            await Eventually.TrueAsync(() => supervisor.Status.NextStartInMs is not null, "backoff");
            clock.Advance(TimeSpan.FromMilliseconds(crash == 1 ? 250 : 500));
        }

        // ...a browser that was ready and ran for a minute starts it over.
        await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started, 3);
        await Eventually.TrueAsync(() => supervisor.IsReady, "ready");
        clock.Advance(ChromiumSupervisor.HealthyUptime);
        Posix.Kill(supervisor.Pid!.Value, Posix.SIGKILL);
        var healthy = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Exited, 3);
        Assert.Equal(250, healthy.GetProperty("backoff_ms").GetDouble());
        Assert.False(healthy.GetProperty("crash_loop").GetBoolean());
        Assert.Equal(1, supervisor.Status.ConsecutiveCrashes);
    }

    [Fact]
    public async Task ABrowserThatIgnoresSigtermIsKilledWithItsChildrenAfterTheGrace()
    {
        var clock = new WatchedClock();
        // Ignores SIGTERM, and so does its child: only the SIGKILL to the group ends both.
        var stubborn = _fakes.Script(
            "trap '' TERM\necho 'DevTools listening on ws://127.0.0.1:9/devtools/browser/stubborn' >&2\nsleep 600 &\nwait");
        var (supervisor, events, tracker) = _fakes.Supervisor(stubborn, clock);
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started);
        var pid = supervisor.Pid!.Value;
        await Eventually.TrueAsync(() => FakeBrowsers.ProcessesWith("600").Any(p => FakeBrowsers.ProcessGroupOf(p) == pid), "the child");

        var stop = supervisor.DisposeAsync().AsTask();
        // The grace's timer is armed once SIGTERM is out; the clock stands still, so it ends one grace from now.
        await Eventually.TrueAsync(() => clock.Timers.Any(t => t.IsPending && t.DueTime == ChromiumSupervisor.StopGrace), "SIGTERM sent, the grace's timer armed");
        var grace = clock.SinglePendingAt(clock.GetUtcNow() + ChromiumSupervisor.StopGrace, "the grace");

        // Up to the grace's last tick the group lives on, SIGTERM ignored: nothing but the grace's timer sends SIGKILL.
        clock.Advance(ChromiumSupervisor.StopGrace - TimeSpan.FromMilliseconds(1));
        Assert.True(grace.IsPending, "the grace ended before its time");
        Assert.False(stop.IsCompleted, "stopped before the grace elapsed");
        Assert.Contains(FakeBrowsers.ProcessesWith("600"), p => FakeBrowsers.ProcessGroupOf(p) == pid);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(grace.HasFired, "the grace did not end at its time");
        await stop.WaitAsync(FakeBrowsers.Patience);

        var exited = FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Exited).Single();
        Assert.Equal("SIGKILL", exited.GetProperty("signal").GetString());
        Assert.Equal("shutdown", exited.GetProperty("cause").GetString());
        Assert.DoesNotContain(FakeBrowsers.ProcessesWith("600"), p => FakeBrowsers.ProcessGroupOf(p) == pid);
        Assert.Equal("ws://127.0.0.1:9/devtools/browser/stubborn", tracker.Current);
    }

    [Fact]
    public async Task AMissingOrNonExecutableChromiumIsNamedInTheError()
    {
        var missing = Path.Combine(_fakes.Dir, "no-such-chromium");
        var error = await Assert.ThrowsAnyAsync<Exception>(() => _fakes.Supervisor(missing).Supervisor.StartAsync(FakeBrowsers.Timeout()));
        Assert.Contains(missing, error.Message);
        Assert.Contains("--chromium PATH", error.Message);

        var plain = Path.Combine(_fakes.Dir, "plain-file");
        File.WriteAllText(plain, "");
        error = await Assert.ThrowsAnyAsync<Exception>(() => _fakes.Supervisor(plain).Supervisor.StartAsync(FakeBrowsers.Timeout()));
        Assert.Contains(plain, error.Message);

        error = await Assert.ThrowsAnyAsync<Exception>(() => _fakes.Supervisor("definitely-not-a-chromium-on-path").Supervisor.StartAsync(FakeBrowsers.Timeout()));
        Assert.Contains("definitely-not-a-chromium-on-path", error.Message);
    }

    [Fact]
    public async Task PersistedRuntimeFlagsAreUsedAtTheNextStart()
    {
        new RuntimeFlags(_fakes.DataDir).Save(["--user-agent=Persisted/1.0", "--lang=de"]);
        var (supervisor, events, _) = _fakes.Supervisor(_fakes.FakeChromium(), flags: "--lang=fr --other");
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started);
        var cmdline = FakeBrowsers.CommandLineOf(supervisor.Pid!.Value);
        Assert.Contains("--user-agent=Persisted/1.0", cmdline);
        Assert.Contains("--other", cmdline);
        Assert.Contains("--lang=de", cmdline);
        Assert.DoesNotContain("--lang=fr", cmdline); // a runtime flag replaces the same flag from --chromium-flags
        Assert.Equal(["--user-agent=Persisted/1.0", "--lang=de"], supervisor.Flags);
    }
}
