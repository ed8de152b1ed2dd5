using System.Net;
using System.Text.Json;
using CdpGateway.Browser;
using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;
using FakeChromium;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Browser;

/// <summary>
/// Attach mode's health follows the browser, not the last DevTools line: an in-process gateway whose URL the test
/// announces (as the log follower would), a fake clock for the probe rounds, and fake browsers that go away and come
/// back on the same port.
/// </summary>
public sealed class ReachabilityTests
{
    private static readonly TimeSpan Patience = TestGateway.Patience;

    [Fact]
    public async Task ABrowserThatGoesAwayIsUnreachableWithinOneProbeIntervalAndSaidSoOnce()
    {
        await using var gateway = await StartWatchedAsync();
        using var http = new HttpClient();
        var watch = Watch(gateway);
        var url = gateway.Browser.BrowserUrl;

        var gone = await GoAwayAsync(gateway);

        Assert.Equal(url, gone.GetProperty("devtools_url").GetString());
        Assert.Equal(1, gone.GetProperty("generation").GetInt64());
        Assert.Contains("refused", gone.GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);
        var (status, health) = await GetAsync(http, gateway, "/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("unreachable", health.GetProperty("status").GetString());
        Assert.Equal(url, health.GetProperty("devtools_url").GetString());
        Assert.Contains("refused", health.GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);
        var (_, chromium) = await GetAsync(http, gateway, "/chromium");
        Assert.Equal("unreachable", chromium.GetProperty("state").GetString());
        Assert.Contains("refused", chromium.GetProperty("last_error").GetString(), StringComparison.OrdinalIgnoreCase);

        // Another round finds it still gone, and says nothing new.
        await watch.IdleAsync(1).WaitAsync(Patience);
        gateway.Clock.Advance(watch.Interval);
        await watch.IdleAsync(2).WaitAsync(Patience);
        Assert.Single(gateway.EventsOfType(ChromiumEventTypes.Unreachable));
        Assert.Empty(gateway.EventsOfType(ChromiumEventTypes.Reachable));
        Assert.False(gateway.App.Chromium.IsReady);
    }

    [Fact]
    public async Task ABrowserThatAnswersAgainIsReadyAgainAtTheNextRoundWithAnEvent()
    {
        await using var gateway = await StartWatchedAsync();
        using var http = new HttpClient();
        var watch = Watch(gateway);
        var first = gateway.Browser;
        await GoAwayAsync(gateway);

        await using var again = await FakeDevToolsServer.StartAsync(first.Port, browserId: first.BrowserId);
        await watch.IdleAsync(1).WaitAsync(Patience);
        gateway.Clock.Advance(watch.Interval);
        var back = await gateway.WaitForEventAsync(ChromiumEventTypes.Reachable, patience: Patience);

        Assert.Equal(first.BrowserUrl, back.GetProperty("devtools_url").GetString());
        Assert.Equal(1, back.GetProperty("generation").GetInt64());
        Assert.True(gateway.App.Chromium.IsReady);
        var (status, health) = await GetAsync(http, gateway, "/health");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ready", health.GetProperty("status").GetString());
        Assert.Equal(1, health.GetProperty("generation").GetInt64());
        var (_, chromium) = await GetAsync(http, gateway, "/chromium");
        Assert.Equal("ready", chromium.GetProperty("state").GetString());
        Assert.True(!chromium.TryGetProperty("last_error", out var error) || error.ValueKind == JsonValueKind.Null, "no error once it answers");
        Assert.Single(gateway.EventsOfType(ChromiumEventTypes.Unreachable));
    }

    [Fact]
    public async Task ANewDevToolsLineMakesAnUnreachableGatewayReadyWithoutWaitingForARound()
    {
        await using var gateway = await StartWatchedAsync();
        using var http = new HttpClient();
        await GoAwayAsync(gateway);

        var next = await gateway.StartBrowserAsync();
        var back = await gateway.WaitForEventAsync(ChromiumEventTypes.Reachable, patience: Patience);

        Assert.Equal(next.BrowserUrl, back.GetProperty("devtools_url").GetString());
        Assert.Equal(2, back.GetProperty("generation").GetInt64());
        var (status, health) = await GetAsync(http, gateway, "/health");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(next.BrowserUrl, health.GetProperty("devtools_url").GetString());
        Assert.Equal(2, health.GetProperty("generation").GetInt64());
        Assert.Equal([1L, 2L], gateway.EventsOfType(ChromiumEventTypes.Ready)
            .Select(e => e.GetProperty("event").GetProperty("data").GetProperty("generation").GetInt64()));
    }

    [Fact]
    public async Task AFailedDialIsProbedAtOnceWithoutWaitingForTheNextRound()
    {
        await using var gateway = await StartWatchedAsync();
        var watch = Watch(gateway);
        await watch.IdleAsync(0).WaitAsync(Patience);
        var url = gateway.Browser.BrowserUrl;
        await gateway.Browser.DisposeAsync();

        // The clock stands still: only the proxy's report can set the probe off.
        using var client = await gateway.ConnectAsync();
        var gone = await gateway.WaitForEventAsync(ChromiumEventTypes.Unreachable, patience: Patience);

        Assert.Equal(url, gone.GetProperty("devtools_url").GetString());
        Assert.Equal("unreachable", gateway.App.Chromium.Status.State);
        await client.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
    }

    [Fact]
    public async Task AFailureReportAgainstAnotherUrlProbesNothing()
    {
        await using var gateway = await StartWatchedAsync();
        var watch = Watch(gateway);
        await watch.IdleAsync(0).WaitAsync(Patience);

        gateway.App.Tracker.ReportFailure("ws://127.0.0.1:1/devtools/browser/elsewhere");
        gateway.App.Tracker.ReportFailure(gateway.Browser.BrowserUrl);
        await watch.IdleAsync(1).WaitAsync(Patience);

        Assert.True(gateway.App.Chromium.IsReady);
        Assert.Empty(gateway.EventsOfType(ChromiumEventTypes.Unreachable));
    }

    [Fact]
    public async Task ALaunchedBrowserThatStopsAnsweringWithoutExitingIsUnreachableUntilItAnswersAgain()
    {
        const int SIGSTOP = 19;
        const int SIGCONT = 18;
        await using var fakes = new FakeBrowsers();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (supervisor, events, _) = fakes.Supervisor(fakes.FakeChromium(), clock, probeInterval: ReachabilityWatch.DefaultInterval);
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        var started = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started);
        var pid = started.GetProperty("pid").GetInt32();
        await Eventually.TrueAsync(() => supervisor.IsReady, "ready");
        var watch = supervisor.Reachability;
        await watch.IdleAsync(0).WaitAsync(Patience);

        // Stopped, it still accepts connections (the kernel does that) but answers nothing: only the probe's timeout tells.
        Posix.Kill(pid, SIGSTOP);
        try
        {
            clock.Advance(watch.Interval);
            await watch.ProbeStartedAsync(1).WaitAsync(Patience);
            clock.Advance(watch.Timeout);
            var gone = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Unreachable);
            Assert.Equal(1, gone.GetProperty("generation").GetInt64());
            Assert.Contains("no answer", gone.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.False(supervisor.IsReady);
            Assert.Equal(ChromiumState.Unreachable, supervisor.Status.State);
            Assert.Equal(pid, supervisor.Status.Pid);
        }
        finally
        {
            Posix.Kill(pid, SIGCONT);
        }

        await watch.IdleAsync(1).WaitAsync(Patience);
        clock.Advance(watch.Interval);
        var back = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Reachable);
        Assert.Equal(1, back.GetProperty("generation").GetInt64());
        Assert.True(supervisor.IsReady);
        Assert.Equal(ChromiumState.Ready, supervisor.Status.State);
        Assert.Empty(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Exited));
        Assert.Single(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Ready)); // answering again is not a new ready
    }

    [Fact]
    public async Task ALaunchedBrowserThatCrashesIsReportedAsAnExitAndNeverAsUnreachable()
    {
        await using var fakes = new FakeBrowsers();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (supervisor, events, tracker) = fakes.Supervisor(fakes.FakeChromium(), clock, probeInterval: ReachabilityWatch.DefaultInterval);
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        var started = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started);
        await Eventually.TrueAsync(() => supervisor.IsReady, "ready");
        var watch = supervisor.Reachability;
        await watch.IdleAsync(0).WaitAsync(Patience);
        var url = tracker.Current;

        // As a client's dropped browser leg would: the report races the exit reaching the supervisor.
        Posix.Kill(started.GetProperty("pid").GetInt32(), Posix.SIGKILL);
        tracker.ReportFailure(url);
        await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Exited);
        // The backoff's timer exists once the status shows the next start; an advance before that would move no timer.
        await Eventually.TrueAsync(() => supervisor.Status.NextStartInMs is not null, "waiting out the backoff");
        clock.Advance(ChromiumSupervisor.InitialBackoff);
        await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started, 2);
        await Eventually.TrueAsync(() => supervisor.IsReady, "ready again");

        Assert.Empty(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Unreachable));
        Assert.Empty(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Reachable));
    }

    /// <summary>A gateway whose attach-mode control probes, as in production, but learns URLs from the test.</summary>
    private static async Task<TestGateway> StartWatchedAsync()
    {
        var gateway = await TestGateway.StartAsync(services: services => services.AddSingleton<IChromiumControl>(sp =>
            new AttachedChromium(sp.GetRequiredService<GatewayOptions>(), sp.GetRequiredService<DevToolsUrlTracker>(), follower: null,
                sp.GetRequiredService<IEventPublisher>(), sp.GetRequiredService<TimeProvider>(), NullLogger<AttachedChromium>.Instance)));
        await gateway.WaitForEventAsync(ChromiumEventTypes.Started, patience: Patience);
        await Eventually.TrueAsync(() => gateway.App.Chromium.IsReady, "the first browser found ready");
        return gateway;
    }

    private static ReachabilityWatch Watch(TestGateway gateway) => ((AttachedChromium)gateway.App.Chromium).Reachability!;

    /// <summary>Lets the watch settle after the first ready, takes the browser away and moves the clock one round on.</summary>
    private static async Task<JsonElement> GoAwayAsync(TestGateway gateway)
    {
        var watch = Watch(gateway);
        await watch.IdleAsync(0).WaitAsync(Patience);
        await gateway.Browser.DisposeAsync();
        gateway.Clock.Advance(watch.Interval);
        return await gateway.WaitForEventAsync(ChromiumEventTypes.Unreachable, patience: Patience);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(HttpClient http, TestGateway gateway, string path)
    {
        using var response = await http.GetAsync(gateway.ApiHttp(path));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        return (response.StatusCode, body);
    }
}
