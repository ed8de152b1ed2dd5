using System.Text.Json;
using CdpGateway.Browser;
using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Proxy;
using CdpGateway.Tests.Support;
using FakeChromium;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CdpGateway.Tests.Browser;

/// <summary>
/// <c>chromium_ready</c>: once per generation, when it first answers <c>Browser.getVersion</c>, after its
/// <c>chromium_started</c> and before its <c>chromium_exited</c>. The browsers whose answer is timed announce a port
/// nothing listens on yet: the readiness probe then waits on the test's clock, and the test opens the port and moves
/// the clock by a known amount.
/// </summary>
public sealed class ChromiumReadyEventTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = FakeBrowsers.Patience;
    private static readonly TimeSpan Wait = TimeSpan.FromMilliseconds(1250);

    private readonly FakeBrowsers _fakes = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _fakes.DisposeAsync();

    [Fact]
    public async Task ALaunchedBrowserIsReadyOnceWithTheTimeFromItsDevtoolsLineToItsFirstAnswer()
    {
        var clock = new WatchedClock();
        var (port, id) = (DisconnectScenarioTests.DeadPort(), Guid.NewGuid().ToString());
        var url = $"ws://127.0.0.1:{port}/devtools/browser/{id}";
        var (supervisor, events, _) = _fakes.Supervisor(_fakes.Script($"echo \"DevTools listening on {url}\" >&2\nsleep 600 &\nwait"), clock);
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        var started = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Started);
        await ProbeWaitingAsync(clock);
        Assert.Empty(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Ready));

        await using var browser = await FakeDevToolsServer.StartAsync(port, browserId: id);
        clock.Advance(Wait);
        var ready = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Ready);

        Assert.Equal(started.GetProperty("pid").GetInt32(), ready.GetProperty("pid").GetInt32());
        Assert.Equal(1, ready.GetProperty("generation").GetInt64());
        Assert.Equal(url, ready.GetProperty("devtools_url").GetString());
        Assert.Equal(Wait.TotalMilliseconds, ready.GetProperty("ready_ms").GetDouble());
        await Eventually.TrueAsync(() => supervisor.Status.State == ChromiumState.Ready, "ready");
        var order = Ordered(events);
        Assert.True(SeqOf(order, ChromiumEventTypes.Started, 1) < SeqOf(order, ChromiumEventTypes.Ready, 1), "ready before started");
        Assert.Single(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Ready));
    }

    [Fact]
    public async Task EachRestartedGenerationIsReadyOnceBetweenItsStartAndItsExitWithItsRestartPhase()
    {
        var (supervisor, events, _) = _fakes.Supervisor(_fakes.FakeChromium());
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        await Eventually.TrueAsync(() => supervisor.IsReady, "ready");

        await supervisor.RestartAsync(FakeBrowsers.Timeout());
        var last = await supervisor.RestartAsync(FakeBrowsers.Timeout());
        await supervisor.DisposeAsync();

        var order = Ordered(events);
        var ready = order.Where(e => e.Type == ChromiumEventTypes.Ready).ToList();
        Assert.Equal([1L, 2L, 3L], ready.Select(e => e.Data.GetProperty("generation").GetInt64()));
        for (var generation = 1; generation <= 3; generation++)
        {
            var at = SeqOf(order, ChromiumEventTypes.Ready, generation);
            Assert.True(SeqOf(order, ChromiumEventTypes.Started, generation) < at, $"generation {generation} ready before its start");
            Assert.True(at < SeqOf(order, ChromiumEventTypes.Exited, generation), $"generation {generation} ready after its exit");
        }
        // The event and the restart's phase (the histogram's devtools_to_ready) are one measurement.
        Assert.Equal(Math.Round(last.Phases!.DevToolsToReady.TotalMilliseconds, 3), ready[2].Data.GetProperty("ready_ms").GetDouble());
        Assert.Equal(last.DevToolsUrl, ready[2].Data.GetProperty("devtools_url").GetString());
    }

    [Fact]
    public async Task ABrowserThatExitsBeforeItAnswersIsNeverReadyAndItsSuccessorIs()
    {
        var clock = new WatchedClock();
        var (port, id) = (DisconnectScenarioTests.DeadPort(), Guid.NewGuid().ToString());
        var url = $"ws://127.0.0.1:{port}/devtools/browser/{id}";
        var once = Path.Combine(_fakes.Dir, "launched-once");
        // The first launch announces itself and dies before anything listens; the next one stays.
        var script = _fakes.Script(
            $"echo \"DevTools listening on {url}\" >&2\nif [ ! -e '{once}' ]; then touch '{once}'; exit 3; fi\nsleep 600 &\nwait");
        var (supervisor, events, _) = _fakes.Supervisor(script, clock);
        await supervisor.StartAsync(FakeBrowsers.Timeout());
        var exited = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Exited);
        Assert.Equal(1, exited.GetProperty("generation").GetInt64());

        // Now its URL answers, and a probe of it still waiting to retry falls due with the backoff: too late for it.
        await using var browser = await FakeDevToolsServer.StartAsync(port, browserId: id);
        await Eventually.TrueAsync(() => supervisor.Status.NextStartInMs is not null, "waiting out the backoff");
        clock.Advance(ChromiumSupervisor.InitialBackoff);
        var ready = await FakeBrowsers.WaitForEventAsync(events, ChromiumEventTypes.Ready);

        Assert.Equal(2, ready.GetProperty("generation").GetInt64());
        await supervisor.DisposeAsync();
        Assert.Single(FakeBrowsers.EventsOfType(events, ChromiumEventTypes.Ready));
    }

    [Fact]
    public async Task AnAttachedBrowserIsReadyOnceWhenItFirstAnswersAndNotAgainWhenItAnswersAfterASilence()
    {
        var clock = new WatchedClock();
        await using var gateway = await TestGateway.StartAsync(withBrowser: false, services: services => services.AddSingleton<IChromiumControl>(sp =>
            new AttachedChromium(sp.GetRequiredService<GatewayOptions>(), sp.GetRequiredService<DevToolsUrlTracker>(), follower: null,
                sp.GetRequiredService<IEventPublisher>(), clock, NullLogger<AttachedChromium>.Instance)));
        var (port, id) = (DisconnectScenarioTests.DeadPort(), Guid.NewGuid().ToString());
        var url = $"ws://127.0.0.1:{port}/devtools/browser/{id}";
        gateway.App.Tracker.Set(url);
        await gateway.WaitForEventAsync(ChromiumEventTypes.Started, patience: Patience);
        await ProbeWaitingAsync(clock);

        var browser = await FakeDevToolsServer.StartAsync(port, browserId: id);
        clock.Advance(Wait);
        var ready = await gateway.WaitForEventAsync(ChromiumEventTypes.Ready, patience: Patience);

        Assert.Equal(JsonValueKind.Null, ready.GetProperty("pid").ValueKind);
        Assert.Equal(1, ready.GetProperty("generation").GetInt64());
        Assert.Equal(url, ready.GetProperty("devtools_url").GetString());
        Assert.Equal(Wait.TotalMilliseconds, ready.GetProperty("ready_ms").GetDouble());

        // Silent for a round, then answering again: chromium_unreachable, chromium_reachable, and no second ready.
        var watch = ((AttachedChromium)gateway.App.Chromium).Reachability!;
        await watch.IdleAsync(0).WaitAsync(Patience);
        await browser.DisposeAsync();
        clock.Advance(watch.Interval);
        await gateway.WaitForEventAsync(ChromiumEventTypes.Unreachable, patience: Patience);
        await using var again = await FakeDevToolsServer.StartAsync(port, browserId: id);
        await watch.IdleAsync(1).WaitAsync(Patience);
        clock.Advance(watch.Interval);
        await gateway.WaitForEventAsync(ChromiumEventTypes.Reachable, patience: Patience);
        Assert.Single(gateway.EventsOfType(ChromiumEventTypes.Ready));
    }

    [Fact]
    public async Task DuringAnAttachedRestartTheStatusSaysReadyFromTheMomentTheNewBrowsersChromiumReadyIsPublished()
    {
        StatusAtReady? publisher = null;
        await using var gateway = await TestGateway.StartAsync(options => options.RestartCommand = "true", withBrowser: false,
            services: services => services.AddSingleton<IChromiumControl>(sp =>
                new AttachedChromium(sp.GetRequiredService<GatewayOptions>(), sp.GetRequiredService<DevToolsUrlTracker>(), follower: null,
                    publisher = new StatusAtReady(sp.GetRequiredService<IEventPublisher>()), sp.GetRequiredService<TimeProvider>(),
                    NullLogger<AttachedChromium>.Instance)));
        var chromium = gateway.App.Chromium;
        publisher!.Chromium = chromium;
        await gateway.StartBrowserAsync();
        await gateway.WaitForEventAsync(ChromiumEventTypes.Ready, patience: Patience);

        var restart = chromium.RestartAsync(FakeBrowsers.Timeout());
        await Eventually.TrueAsync(() => chromium.Status.State == ChromiumState.Restarting, "restarting");
        var next = await gateway.StartBrowserAsync();
        var result = await restart;

        Assert.Equal(2, result.Generation);
        // Read as the event went out, before the restart's answer: a console reloading /chromium on it reads "ready".
        Assert.Equal([ChromiumState.Ready, ChromiumState.Ready], publisher.StatesAtReady);
        Assert.Equal(next.BrowserUrl, chromium.Status.DevToolsUrl);
    }

    /// <summary>Passes every event on, and notes the control's state at the moment each <c>chromium_ready</c> is published.</summary>
    private sealed class StatusAtReady(IEventPublisher inner) : IEventPublisher
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _states = new();

        public IChromiumControl? Chromium { get; set; }

        public IReadOnlyList<string> StatesAtReady => [.. _states];

        public long Publish<T>(string type, string category, T data, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> dataType,
            DateTimeOffset? timestamp = null)
        {
            if (type == ChromiumEventTypes.Ready && Chromium is { } chromium)
            {
                _states.Enqueue(chromium.Status.State);
            }
            return inner.Publish(type, category, data, dataType, timestamp);
        }
    }

    /// <summary>The readiness probe met a closed port and waits, on the test's clock, to try again.</summary>
    private static Task ProbeWaitingAsync(WatchedClock clock) =>
        Eventually.TrueAsync(() => clock.Timers.Any(t => t.IsPending && t.DueTime == BrowserReadiness.RetryInterval), "the probe waiting to retry");

    private static List<(long Seq, string Type, JsonElement Data)> Ordered(EventStream events) =>
        events.Snapshot(0, 8192, null)
            .Select(e => (e.Seq, e.Type, JsonDocument.Parse(e.Utf8Json).RootElement.GetProperty("event").GetProperty("data").Clone()))
            .ToList();

    private static long SeqOf(List<(long Seq, string Type, JsonElement Data)> order, string type, long generation) =>
        order.Single(e => e.Type == type && e.Data.GetProperty("generation").GetInt64() == generation).Seq;
}
