using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CdpGateway.Tests.Proxy;

/// <summary>
/// The acceptance scenarios of docs/disconnect-contract.md, sections A to E, one test per row (named A1..E27 after
/// it), through the real gateway with real sockets. The fake clock drives the confirm wait and dial window.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class DisconnectScenarioTests
{
    private static DisconnectReason Reason(JsonElement data) =>
        DisconnectReasons.TryParse(data.GetProperty("reason").GetString(), out var reason) ? reason : throw new FormatException("not a reason");

    // ---- A. Pump-running scenarios ----

    [Fact]
    public async Task A1_ClientClosesCleanly_IsClientClose()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        Assert.Equal("{\"id\":1}", await client.EchoAsync("{\"id\":1}"));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);

        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.ClientClose, Reason(data));
        Assert.Equal(1000, data.GetProperty("close_code").GetInt32());
        Assert.Equal(1, data.GetProperty("messages_from_client").GetInt64());
        Assert.Equal(1, data.GetProperty("messages_from_upstream").GetInt64());
        Assert.Equal(2, data.GetProperty("message_count").GetInt64());
        Assert.Equal(8, data.GetProperty("bytes_from_client").GetInt64());
        Assert.Equal(8, data.GetProperty("bytes_from_upstream").GetInt64());
    }

    [Fact]
    public async Task A2_GatewayShutdownCancelsTheRequest_IsContextCancelledWith1001()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        await gw.App.StopAsync();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await closed);
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.ContextCancelled, Reason(data));
        Assert.Equal(1001, data.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public async Task A3_CrashWhoseTcpEofBeatsTheNewDevToolsLine_IsUpstreamChanged_AndClientIsClosedFirst_AndDurationExcludesTheWait()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        gw.Clock.Advance(TimeSpan.FromMilliseconds(1500));
        var closed = client.WaitForCloseAsync();

        gw.Browser.AbortAll(); // Chromium dies: TCP EOF, no new URL yet

        Assert.Equal(WebSocketCloseStatus.InternalServerError, await closed);
        // The client is closed while the reason is still open: no disconnect event yet.
        Assert.Empty(gw.EventsOfType(ConnectionEventTypes.Disconnect));

        gw.Clock.Advance(TimeSpan.FromSeconds(6)); // the restart takes seconds, within the confirm wait
        await gw.StartBrowserAsync();              // the new DevTools line

        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.UpstreamChanged, Reason(data));
        Assert.Equal(1500, data.GetProperty("duration_ms").GetDouble());
    }

    [Fact]
    public async Task A3b_WhileTheReasonIsStillOpenTheClientsConnectionAndSlotAreAlreadyGivenBack()
    {
        await using var gw = await TestGateway.StartAsync(o => o.MaxConnections = 1);
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        gw.Browser.AbortAll();
        await closed;
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);

        // The confirm wait has not moved (fake clock), yet the one slot is free again.
        await Eventually.TrueAsync(() => gw.Services<CdpGateway.Proxy.ConnectionLimiter>().Open == 0, "no connection left open");
        Assert.Empty(gw.EventsOfType(ConnectionEventTypes.Disconnect));
        await gw.StartBrowserAsync();
        using var next = await gw.ConnectAsync();
        Assert.Equal("{}", await next.EchoAsync("{}"));
        Assert.Equal(DisconnectReason.UpstreamChanged, Reason(await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect)));
    }

    [Fact]
    public async Task A4_CrashWithNoRecoveryWithinTheConfirmWait_IsUpstreamError()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        gw.Browser.AbortAll();
        Assert.Equal(WebSocketCloseStatus.InternalServerError, await closed);

        var data = await gw.AdvanceUntilAsync(gw.WaitForEventAsync(ConnectionEventTypes.Disconnect), TimeSpan.FromSeconds(1));
        Assert.Equal(DisconnectReason.UpstreamError, Reason(data));
        Assert.Equal(1011, data.GetProperty("close_code").GetInt32());
        Assert.True(data.GetProperty("duration_ms").GetDouble() < gw.Options.RestartConfirmWait.TotalMilliseconds);
    }

    [Fact]
    public async Task A5_UrlChangeWhileTheOldUpstreamIsStillAlive_KicksTheClientWith1012_IsUpstreamChanged()
    {
        await using var gw = await TestGateway.StartAsync();
        var old = gw.Browser;
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        await gw.StartBrowserAsync(); // new URL announced; the old browser is still up

        Assert.Equal((WebSocketCloseStatus)1012, await closed);
        Assert.Equal("browser restarted", client.CloseStatusDescription);
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.UpstreamChanged, Reason(data));
        Assert.Equal(1012, data.GetProperty("close_code").GetInt32());
        await Eventually.TrueAsync(() => old.OpenSockets == 0, "the old browser's socket closed"); // the stale upstream leg was closed
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A6_CrashAndNewUrlInOneWindow_IsUpstreamChangedWhicheverComesFirst(bool urlFirst)
    {
        await using var gw = await TestGateway.StartAsync();
        var old = gw.Browser;
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        if (urlFirst)
        {
            await gw.StartBrowserAsync();
            old.AbortAll();
        }
        else
        {
            old.AbortAll();
            await gw.StartBrowserAsync();
        }

        await closed;
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.UpstreamChanged, Reason(data));
    }

    [Fact]
    public async Task A7_UrlChangeRacingCancellation_IsContextCancelled()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        var stop = gw.App.StopAsync();
        gw.App.Tracker.Set("ws://127.0.0.1:1/devtools/browser/new");
        await stop;

        await closed;
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.ContextCancelled, Reason(data));
    }

    [Fact]
    public async Task A8_DuplicateUrlAnnouncement_DoesNotTearDown()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");

        Assert.False(gw.App.Tracker.Set(gw.Browser.BrowserUrl));

        Assert.Equal("{\"id\":2}", await client.EchoAsync("{\"id\":2}"));
        Assert.Empty(gw.EventsOfType(ConnectionEventTypes.Disconnect));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        Assert.Equal(DisconnectReason.ClientClose, Reason(await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect)));
    }

    [Fact]
    public async Task A9_EmptyUrlAnnouncement_IsIgnored()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();

        Assert.False(gw.App.Tracker.Set(""));

        Assert.Equal("{\"id\":3}", await client.EchoAsync("{\"id\":3}"));
        Assert.Equal(gw.Browser.BrowserUrl, gw.App.Tracker.Current);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        Assert.Equal(DisconnectReason.ClientClose, Reason(await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect)));
    }

    // ---- B. Pre-pump scenarios ----

    [Fact]
    public async Task B10_DialFailsBecauseTheUpstreamIsDown_IsUpstreamErrorWith1011()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        gw.App.Tracker.Set($"ws://127.0.0.1:{DeadPort()}/devtools/browser/gone");
        using var client = await gw.ConnectAsync();
        var closed = client.WaitForCloseAsync();

        var data = await gw.AdvanceUntilAsync(gw.WaitForEventAsync(ConnectionEventTypes.Disconnect), TimeSpan.FromSeconds(1));

        Assert.Equal(DisconnectReason.UpstreamError, Reason(data));
        Assert.Equal(WebSocketCloseStatus.InternalServerError, await closed);
        Assert.Equal("browser unreachable", client.CloseStatusDescription);
        Assert.Single(gw.EventsOfType(ConnectionEventTypes.Connect));
    }

    [Fact]
    public async Task B11_RequestCancelledMidDial_IsContextCancelled()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        gw.App.Tracker.Set($"ws://127.0.0.1:{DeadPort()}/devtools/browser/gone");
        using var client = await gw.ConnectAsync();
        var closed = client.WaitForCloseAsync();
        await gw.WaitForEventAsync(ConnectionEventTypes.Connect);

        await gw.App.StopAsync();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await closed);
        Assert.Equal(DisconnectReason.ContextCancelled, Reason(await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect)));
    }

    [Fact]
    public async Task B12_DialSucceedsOnANewerUrl_AndLaterChangesCompareAgainstIt()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        gw.App.Tracker.Set($"ws://127.0.0.1:{DeadPort()}/devtools/browser/old"); // Chromium is down
        using var client = await gw.ConnectAsync();
        await gw.WaitForEventAsync(ConnectionEventTypes.Connect);

        var browser = await gw.StartBrowserAsync(); // it comes back while the dial waits

        Assert.Equal("{\"id\":4}", await client.EchoAsync("{\"id\":4}"));
        Assert.Equal(1, browser.OpenSockets);
        var closed = client.WaitForCloseAsync();
        await gw.StartBrowserAsync();
        Assert.Equal((WebSocketCloseStatus)1012, await closed);
        Assert.Equal(DisconnectReason.UpstreamChanged, Reason(await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect)));
    }

    [Fact]
    public async Task B13_NoCurrentUrlBeforeAccept_Is503WithoutEvents()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        using var client = new ClientWebSocket();
        client.Options.CollectHttpResponseDetails = true;
        var error = await Assert.ThrowsAsync<WebSocketException>(() => client.ConnectAsync(gw.CdpUri(), CancellationToken.None));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, client.HttpStatusCode);
        Assert.Equal(["1"], client.HttpResponseHeaders!["Retry-After"]);

        using var http = new HttpClient();
        var response = await http.GetAsync(gw.CdpHttp("/json/version"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("no browser yet", await response.Content.ReadAsStringAsync());
        Assert.Empty(gw.AllEvents());
    }

    [Fact]
    public async Task B13b_APageTheCurrentBrowserDoesNotHave_IsAcceptedThenClosedAtOnceWith1011()
    {
        await using var gw = await TestGateway.StartAsync();

        // The 101 comes before the dial, so the refusal Chromium gives the gateway's dial reaches the client as a close.
        using var client = await gw.ConnectAsync("/devtools/page/NO-SUCH-TARGET");
        var closed = client.WaitForCloseAsync();

        // No clock advance: a target the browser refused is not retried within the dial window.
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, await closed);
        Assert.Equal("browser unreachable", client.CloseStatusDescription);
        Assert.Equal(DisconnectReason.UpstreamError, Reason(data));
        Assert.Equal(1011, data.GetProperty("close_code").GetInt32());
        Assert.Equal("page", (await gw.WaitForEventAsync(ConnectionEventTypes.Connect)).GetProperty("target").GetString());
    }

    // ---- C. Lifecycle invariants ----

    [Fact]
    public async Task C14_C15_C17_WatcherAndSubscriptionEndWithTheConnection()
    {
        await using var gw = await TestGateway.StartAsync();
        using (var first = await gw.ConnectAsync())
        {
            await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        }
        using (var second = await gw.ConnectAsync())
        {
            var closed = second.WaitForCloseAsync();
            await gw.StartBrowserAsync(); // the watcher closes the upstream and returns
            await closed;
        }
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect, 2);
        Assert.Equal(0, gw.App.Tracker.SubscriberCount);
    }

    [Fact]
    public async Task C16_C18_WatcherAndCrashAtOnce_GiveExactlyOneDisconnect()
    {
        await using var gw = await TestGateway.StartAsync();
        var old = gw.Browser;
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        var next = await FakeChromium.FakeDevToolsServer.StartAsync();
        old.AbortAll();
        gw.App.Tracker.Set(next.BrowserUrl);
        await closed;

        Assert.Equal(DisconnectReason.UpstreamChanged, Reason(await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect)));
        await gw.App.StopAsync();
        Assert.Single(gw.EventsOfType(ConnectionEventTypes.Disconnect));
        await next.DisposeAsync();
    }

    [Fact]
    public async Task C19_ShutdownDuringAUrlChangeKick_StaysOneEvent()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        await gw.StartBrowserAsync();
        await gw.App.StopAsync();
        await closed;

        Assert.Single(gw.EventsOfType(ConnectionEventTypes.Disconnect));
    }

    [Fact]
    public async Task C19b_ShutdownWithAClientThatNeverAnswersItsClose_StillWritesItsDisconnectToTheEventsFile()
    {
        var file = Path.Combine(Path.GetTempPath(), "cdpgw-events-" + Guid.NewGuid().ToString("N") + ".jsonl");
        try
        {
            await using var gw = await TestGateway.StartAsync(o => o.EventsFile = file);
            using var client = await gw.ConnectAsync();
            await client.EchoAsync("{}");
            var closed = client.WaitForCloseAsync(); // reads the 1001, never answers it

            await gw.App.StopAsync();

            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await closed);
            var disconnects = File.ReadAllLines(file).Where(l => l.Contains("\"cdp_disconnect\"", StringComparison.Ordinal)).ToList();
            var data = JsonDocument.Parse(Assert.Single(disconnects)).RootElement.GetProperty("event").GetProperty("data");
            Assert.Equal(DisconnectReason.ContextCancelled, Reason(data));
            Assert.Equal(1001, data.GetProperty("close_code").GetInt32());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task C20_C21_RetriedDialThenWatcher_ResolveAgainstTheDialledUrl()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        gw.App.Tracker.Set($"ws://127.0.0.1:{DeadPort()}/devtools/browser/old");
        using var client = await gw.ConnectAsync();
        await gw.WaitForEventAsync(ConnectionEventTypes.Connect);
        var live = await gw.StartBrowserAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        live.AbortAll(); // the watcher consumed the dial's URL; the resolver still decides correctly
        var data = await gw.AdvanceUntilAsync(gw.WaitForEventAsync(ConnectionEventTypes.Disconnect), TimeSpan.FromSeconds(1));

        await closed;
        Assert.Equal(DisconnectReason.UpstreamError, Reason(data));
    }

    // ---- D. Defensive cases (resolver level) ----

    [Fact]
    public async Task D22_CancelledCauseWithoutRequestCancellation_IsContextCancelled()
    {
        var tracker = new CdpGateway.Browser.DevToolsUrlTracker();
        tracker.Set("ws://127.0.0.1:1/devtools/browser/a");
        using var subscription = tracker.Subscribe();
        var resolver = new CdpGateway.Proxy.DisconnectReasonResolver(tracker, TimeProvider.System);

        var reason = await resolver.ResolveAsync(CdpGateway.Proxy.ConnectionEnd.GatewayStopping, null, tracker.Current, subscription, TimeSpan.Zero, CancellationToken.None);

        Assert.Equal(DisconnectReason.ContextCancelled, reason);
    }

    [Fact]
    public async Task D23_NoCurrentUrlMidStream_IsNotAChange()
    {
        var tracker = new CdpGateway.Browser.DevToolsUrlTracker();
        using var subscription = tracker.Subscribe();
        var resolver = new CdpGateway.Proxy.DisconnectReasonResolver(tracker, TimeProvider.System);

        var reason = await resolver.ResolveAsync(CdpGateway.Proxy.ConnectionEnd.UpstreamToClient, CdpGateway.Proxy.RelayEnd.SourceFailed,
            "ws://127.0.0.1:1/devtools/browser/a", subscription, TimeSpan.Zero, CancellationToken.None);

        Assert.Equal(DisconnectReason.UpstreamError, reason);
    }

    // ---- E. What the client is told, and what close_code says (found by a chaos run) ----

    [Fact]
    public async Task E24_Crash_ClientIsToldTheConnectionWasLostWith1011_WhileTheEventSaysUpstreamChanged()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        gw.Browser.AbortAll(); // the close goes out before the confirm wait can say what this was

        Assert.Equal(WebSocketCloseStatus.InternalServerError, await closed);
        Assert.Equal("browser connection lost", client.CloseStatusDescription);
        await gw.StartBrowserAsync();
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.UpstreamChanged, Reason(data));
        Assert.Equal(1011, data.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public async Task E25_PageOfTheNewBrowserGoesAwayWhileRestarting_Is1011Not1012_AndUpstreamError()
    {
        var chromium = new RestartingChromium();
        await using var gw = await TestGateway.StartAsync(services: s => s.AddSingleton<CdpGateway.Browser.IChromiumControl>(chromium));
        chromium.Replaced = gw.Browser.BrowserUrl; // the supervisor is replacing this browser...
        var fresh = await gw.StartBrowserAsync();  // ...and its successor is up, not yet ready
        using var client = await gw.ConnectAsync($"/devtools/page/{fresh.PageIds[0]}");
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        fresh.AbortAll(); // the page of the new browser goes away

        Assert.Equal(WebSocketCloseStatus.InternalServerError, await closed);
        Assert.Equal("browser connection lost", client.CloseStatusDescription);
        var data = await gw.AdvanceUntilAsync(gw.WaitForEventAsync(ConnectionEventTypes.Disconnect), TimeSpan.FromSeconds(1));
        Assert.Equal(DisconnectReason.UpstreamError, Reason(data));
        Assert.Equal(1011, data.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public async Task E26_TheBrowserThisConnectionDialledIsBeingReplaced_Is1012BeforeItsSuccessorIsAnnounced()
    {
        var chromium = new RestartingChromium();
        await using var gw = await TestGateway.StartAsync(services: s => s.AddSingleton<CdpGateway.Browser.IChromiumControl>(chromium));
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        chromium.Replaced = gw.Browser.BrowserUrl;
        gw.Browser.AbortAll(); // stopped by the restart; no new URL yet

        Assert.Equal((WebSocketCloseStatus)1012, await closed);
        Assert.Equal("browser restarted", client.CloseStatusDescription);
        await gw.StartBrowserAsync();
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.UpstreamChanged, Reason(data));
        Assert.Equal(1012, data.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public async Task E31_TheBrowserThisConnectionDialledIsBeingReplaced_AndItsSuccessorIsLate_IsStillUpstreamChanged()
    {
        var chromium = new RestartingChromium();
        await using var gw = await TestGateway.StartAsync(services: s => s.AddSingleton<CdpGateway.Browser.IChromiumControl>(chromium));
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        chromium.Replaced = gw.Browser.BrowserUrl;
        gw.Browser.AbortAll(); // stopped by the restart; the new browser takes longer than the confirm wait

        Assert.Equal((WebSocketCloseStatus)1012, await closed);
        // Decided at once from the same fact the 1012 was: no confirm wait, no successor needed.
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.UpstreamChanged, Reason(data));
        Assert.Equal(1012, data.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public async Task E27_PausedReaderWhoseCloseFrameIsWrittenButNeverReachesIt_HasNoCloseCode()
    {
        await using var gw = await TestGateway.StartAsync();
        // A paused reader with a small window: most of one echoed message waits in the gateway's send queue, which
        // still has room, so the close frame's write completes behind it and then goes nowhere.
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp)
        {
            ReceiveBufferSize = 4096,
        };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gw.App.CdpPort));
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(
            "GET /devtools/browser/any HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        await gw.WaitForEventAsync(ConnectionEventTypes.Connect);
        await socket.SendAsync(Frames.Text(new string('x', 256 * 1024), masked: true));
        await Eventually.TrueAsync(() => socket.Available > 0, "the echo reaching the client");
        await Task.Delay(200); // the echo settles: the client's window is full, the rest is queued

        gw.Browser.AbortAll();

        var data = await gw.AdvanceUntilAsync(gw.WaitForEventAsync(ConnectionEventTypes.Disconnect), TimeSpan.FromSeconds(1));
        Assert.Equal(DisconnectReason.UpstreamError, Reason(data));
        Assert.Equal(JsonValueKind.Null, data.GetProperty("close_code").ValueKind);
    }

    [Fact]
    public async Task E28_HowEachDirectionEnded_IsLoggedAtDebugWhenTheConnectionIsReported()
    {
        var log = new CdpGateway.Tests.Telemetry.RecordingLogger<CdpGateway.Proxy.CdpConnectionHandler>();
        await using var gw = await TestGateway.StartAsync(services: s =>
            s.AddSingleton<Microsoft.Extensions.Logging.ILogger<CdpGateway.Proxy.CdpConnectionHandler>>(log));
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closed = client.WaitForCloseAsync();

        gw.Browser.AbortAll();
        await closed;
        await gw.AdvanceUntilAsync(gw.WaitForEventAsync(ConnectionEventTypes.Disconnect), TimeSpan.FromSeconds(1));

        var line = Assert.Single(log.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Debug && e.Message.Contains("ended by")).Message;
        Assert.Contains("ended by UpstreamToClient, upstream_error, close code 1011", line);
        Assert.Contains("browser to client: SourceFailed", line);
    }

    /// <summary>A browser owner that is restarting and says which browser it set out to replace.</summary>
    private sealed class RestartingChromium : CdpGateway.Browser.IChromiumControl
    {
        public volatile string? Replaced;

        public CdpGateway.Browser.ChromiumStatus Status => new()
        {
            Mode = "attach",
            State = CdpGateway.Browser.ChromiumState.Restarting,
            Flags = [],
        };

        public bool IsReady => false;

        public IReadOnlyList<string> Flags => [];

        public string? ReplacedDevToolsUrl => Replaced;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<CdpGateway.Browser.ChromiumRestartResult> RestartAsync(CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<CdpGateway.Browser.ChromiumRestartResult> ChangeFlagsAsync(IReadOnlyList<string> flags, bool replace, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    internal static int DeadPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port; // closed again on dispose: nothing listens there
    }
}
