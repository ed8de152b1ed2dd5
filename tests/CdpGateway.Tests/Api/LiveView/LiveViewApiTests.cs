using System.Buffers.Binary;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Api.LiveView;
using CdpGateway.Tests.Support;
using CdpGateway.Telemetry;

namespace CdpGateway.Tests.Api.LiveView;

/// <summary>
/// The live view's API against a gateway on real sockets and a browser stub that speaks the screencast's CDP: who may
/// watch, that a screencast runs only while someone watches and is shared, that the gateway's own session is no client
/// connection, and that the clients' input reaches the viewers of the page it drove (through a flattened session too,
/// which the relay from Chromium maps: run on both relay paths).
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class LiveViewApiTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task WithoutLiveView_ThePagesAndTheStreamAre404_AndNoRequestStartsAScreencast()
    {
        await using var stub = await ScreencastBrowserStub.StartAsync();
        await using var gateway = await TestGateway.StartAsync(withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);
        var page = stub.PageIds[0];

        using (var status = JsonDocument.Parse(await Http.GetStringAsync(gateway.ApiHttp("/live"))))
        {
            Assert.False(status.RootElement.GetProperty("enabled").GetBoolean());
        }
        foreach (var path in new[] { "/live/targets", $"/live/{page}" })
        {
            using var response = await Http.GetAsync(gateway.ApiHttp(path));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("--live-view", await response.Content.ReadAsStringAsync());
        }
        // The attacker's try: an upgrade straight to the page's stream.
        using var viewer = new ClientWebSocket();
        await Assert.ThrowsAsync<WebSocketException>(() => viewer.ConnectAsync(LiveUri(gateway, page), CancellationToken.None));

        Assert.Equal(0, stub.SocketsOpened);
        Assert.Empty(stub.Commands);
        Assert.Equal(0, gateway.Services<LiveViewHub>().ScreencastsStarted);
    }

    [Fact]
    public async Task TheTargetListNamesThePages_ABadIdIs400_AnUnknownOneIs404_AndAPlainRequestIs400()
    {
        await using var stub = await ScreencastBrowserStub.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o => o.LiveView = true, withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);

        using var targets = JsonDocument.Parse(await Http.GetStringAsync(gateway.ApiHttp("/live/targets")));
        var only = Assert.Single(targets.RootElement.EnumerateArray());
        Assert.Equal(stub.PageIds[0], only.GetProperty("id").GetString());
        Assert.Equal("about:blank", only.GetProperty("url").GetString());
        Assert.Equal("stub page", only.GetProperty("title").GetString());

        using (var bad = await Http.GetAsync(gateway.ApiHttp("/live/not$an*id")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("not a target id", await bad.Content.ReadAsStringAsync());
        }
        using (var plain = await Http.GetAsync(gateway.ApiHttp($"/live/{stub.PageIds[0]}")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
            Assert.Contains("WebSocket", await plain.Content.ReadAsStringAsync());
        }
        using var unknown = new ClientWebSocket();
        unknown.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => unknown.ConnectAsync(LiveUri(gateway, "0123456789ABCDEF0123456789ABCDEF"), CancellationToken.None));
        Assert.Equal(HttpStatusCode.NotFound, unknown.HttpStatusCode);
        Assert.Equal(0, stub.SocketsOpened);
    }

    [Fact]
    public async Task NoScreencastRunsWithoutViewers_TwoViewersShareOne_AndTheLastToLeaveStopsItAndDetaches()
    {
        await using var stub = await ScreencastBrowserStub.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o => o.LiveView = true, withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);
        var hub = gateway.Services<LiveViewHub>();
        var page = stub.PageIds[0];
        Assert.Equal(0, stub.SocketsOpened);

        using var first = await WatchAsync(gateway, page);
        var hello = await ReceiveJsonAsync(first);
        Assert.Equal("hello", hello.GetProperty("type").GetString());
        Assert.Equal(page, hello.GetProperty("target").GetProperty("id").GetString());
        var (metadata, image) = await ReceiveFrameAsync(first);
        Assert.Equal(ScreencastBrowserStub.FrameBytes, image);
        Assert.Equal(800, metadata.GetProperty("device_width").GetDouble());
        Assert.Equal(1, hub.ScreencastsStarted);

        using var second = await WatchAsync(gateway, page);
        await ReceiveJsonAsync(second);
        await stub.SendFrameAsync();
        await ReceiveFrameAsync(first);
        await ReceiveFrameAsync(second);
        // One session to the browser, one screencast for both viewers.
        Assert.Equal(1, hub.ScreencastsStarted);
        Assert.Equal(1, stub.Count("Page.startScreencast"));
        Assert.Equal(1, stub.Count("Target.attachToTarget"));
        Assert.Equal(1, stub.SocketsOpened);
        // Every frame is acknowledged, or Chromium would send no more.
        await Eventually.TrueAsync(() => stub.Count("Page.screencastFrameAck") >= 2, "both frames acknowledged");

        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        await Eventually.TrueAsync(() => hub.Screencasts().Single().Viewers == 1, "the first viewer gone");
        Assert.Equal(0, stub.Count("Page.stopScreencast"));

        await second.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        await Eventually.TrueAsync(() => hub.ScreencastsStopped == 1 && stub.OpenSockets == 0, "the screencast stopped and the session closed");
        Assert.Equal(1, stub.Count("Page.stopScreencast"));
        Assert.Equal(1, stub.Count("Target.detachFromTarget"));
        Assert.Empty(hub.Screencasts());
        // Nothing that changes what clients see.
        Assert.DoesNotContain(stub.Commands, c => c.Method is "Target.activateTarget" or "Target.createTarget" or "Page.bringToFront"
            || c.Method.StartsWith("Emulation.", StringComparison.Ordinal));

        // The gateway's own session is no client connection.
        Assert.Empty(gateway.EventsOfType(ConnectionEventTypes.Connect));
        Assert.Empty(gateway.EventsOfType("cdp_command"));
    }

    [Fact]
    public async Task AClientsClickOnTheWatchedPageReachesTheViewerAsAMark_WithKeysAsCountsOnly()
    {
        await using var stub = await ScreencastBrowserStub.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o => o.LiveView = true, withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);
        var page = stub.PageIds[0];
        using var viewer = await WatchAsync(gateway, page);
        await ReceiveJsonAsync(viewer);
        await ReceiveFrameAsync(viewer);

        // A browser connection driving the page through a flattened session: drawn on the page Chromium attached it to.
        using var browserClient = await gateway.ConnectAsync();
        var session = await AttachAsync(browserClient, 1, page);
        await browserClient.EchoAsync("""{"id":2,"sessionId":"SESSION","method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":120.5,"y":64,"button":"left","clickCount":1}}""".Replace("SESSION", session));
        var click = await ReceiveJsonAsync(viewer);
        Assert.Equal("input", click.GetProperty("type").GetString());
        Assert.Equal("mouse", click.GetProperty("kind").GetString());
        Assert.Equal("mousePressed", click.GetProperty("event_type").GetString());
        Assert.Equal(120.5, click.GetProperty("x").GetDouble());
        Assert.Equal(64, click.GetProperty("y").GetDouble());
        Assert.Equal("left", click.GetProperty("button").GetString());
        Assert.Equal(1, click.GetProperty("click_count").GetDouble());

        // A connection to the page itself: its commands are that page's.
        using var pageClient = await gateway.ConnectAsync($"/devtools/page/{page}");
        await pageClient.EchoAsync("""{"id":2,"method":"Input.dispatchKeyEvent","params":{"type":"keyDown","key":"s","text":"secret-letter","code":"KeyS"}}""");
        var keyMark = await ReceiveAsync(viewer);
        var key = JsonDocument.Parse(keyMark).RootElement;
        Assert.Equal("key", key.GetProperty("kind").GetString());
        Assert.Equal(1, key.GetProperty("count").GetDouble());
        Assert.DoesNotContain("secret", keyMark);
        Assert.DoesNotContain("KeyS", keyMark);
        Assert.DoesNotContain("\"s\"", keyMark);

        await pageClient.EchoAsync("""{"id":3,"method":"Input.insertText","params":{"text":"hunter2"}}""");
        var textMark = await ReceiveAsync(viewer);
        Assert.Equal(7, JsonDocument.Parse(textMark).RootElement.GetProperty("count").GetDouble());
        Assert.DoesNotContain("hunter2", textMark);

        await browserClient.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await pageClient.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
    }

    [Fact]
    public async Task WithSeveralPages_ABrowserSessionsInputIsDrawnOnlyOnThePageItsSessionIsAttachedTo()
    {
        await using var two = await TwoPagesWatchedAsync();
        var (stub, gateway, viewer, watched) = (two.Stub, two.Gateway, two.Viewer, two.Watched);

        // One browser connection with a session on each page: its click on the other page is not the watched page's.
        using var browserClient = await gateway.ConnectAsync();
        var onOther = await AttachAsync(browserClient, 1, stub.PageIds[1]);
        var onWatched = await AttachAsync(browserClient, 2, watched);
        await browserClient.EchoAsync(Click(3, onOther, 1, 2));
        await gateway.WaitForEventAsync("cdp_command");
        // A connection to the other page itself, and its commands.
        using var otherPage = await gateway.ConnectAsync($"/devtools/page/{stub.PageIds[1]}");
        await otherPage.EchoAsync(Click(4, null, 3, 4));
        await gateway.WaitForEventAsync("cdp_command", 2);

        await browserClient.EchoAsync(Click(5, onWatched, 30, 40));

        // The first mark the viewer gets is the click on the watched page's session.
        var mark = await ReceiveJsonAsync(viewer);
        Assert.Equal(30, mark.GetProperty("x").GetDouble());
        Assert.Equal(40, mark.GetProperty("y").GetDouble());

        foreach (var client in new[] { browserClient, otherPage })
        {
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        }
    }

    [Fact]
    public async Task ASessionInsideAPageConnection_IsDrawnOnItsOwnTarget_NotOnTheConnectionsPage()
    {
        await using var two = await TwoPagesWatchedAsync();
        var (stub, gateway, viewer, watched) = (two.Stub, two.Gateway, two.Viewer, two.Watched);

        // A connection to the watched page that drives another target (an out-of-process frame, a worker) through a
        // session of its own: that input is the other target's.
        using var pageClient = await gateway.ConnectAsync($"/devtools/page/{watched}");
        var child = await AttachAsync(pageClient, 1, stub.PageIds[1]);
        await pageClient.EchoAsync(Click(2, child, 7, 8));
        await gateway.WaitForEventAsync("cdp_command");
        await pageClient.EchoAsync(Click(3, null, 70, 80));

        var mark = await ReceiveJsonAsync(viewer);
        Assert.Equal(70, mark.GetProperty("x").GetDouble());
        Assert.Equal(80, mark.GetProperty("y").GetDouble());
        await pageClient.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
    }

    [Fact]
    public async Task ASessionIdChromiumDidNotAnnounceToTheConnection_IsDrawnNowhere_EvenOneAnotherConnectionHolds()
    {
        await using var two = await TwoPagesWatchedAsync();
        var (stub, gateway, viewer, watched) = (two.Stub, two.Gateway, two.Viewer, two.Watched);

        using var owner = await gateway.ConnectAsync();
        var ownersSession = await AttachAsync(owner, 1, watched);
        // The attacker's tries: a made-up session, another connection's session, and an attach event of its own making
        // (sent towards Chromium, which the gateway does not read for sessions).
        using var intruder = await gateway.ConnectAsync();
        await intruder.EchoAsync("""{"id":1,"method":"Target.attachedToTarget","params":{"sessionId":"FORGED","targetInfo":{"targetId":"WATCHED","type":"page"}}}""".Replace("WATCHED", watched));
        await intruder.EchoAsync(Click(2, "FORGED", 1, 1));
        await intruder.EchoAsync(Click(3, "MADEUP", 2, 2));
        await intruder.EchoAsync(Click(4, ownersSession, 3, 3));
        // Attach events are no reported commands: the three clicks are.
        await gateway.WaitForEventAsync("cdp_command", 3);

        await owner.EchoAsync(Click(2, ownersSession, 50, 60));

        var mark = await ReceiveJsonAsync(viewer);
        Assert.Equal(50, mark.GetProperty("x").GetDouble());
        Assert.Equal(60, mark.GetProperty("y").GetDouble());
        var ownersConnection = gateway.EventsOfType("cdp_connect")[0].GetProperty("event").GetProperty("data").GetProperty("connection_id").GetString();
        Assert.Equal(ownersConnection, mark.GetProperty("connection_id").GetString());

        foreach (var client in new[] { owner, intruder })
        {
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        }
    }

    [Fact]
    public async Task APageThatCannotBeAttachedEndsTheViewerWithChromiumsWords_AndLeavesNoSessionOpen()
    {
        await using var stub = await ScreencastBrowserStub.StartAsync();
        stub.RefuseAttach = true;
        await using var gateway = await TestGateway.StartAsync(o => o.LiveView = true, withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);

        using var viewer = await WatchAsync(gateway, stub.PageIds[0]);

        Assert.Equal(WebSocketCloseStatus.InternalServerError, await viewer.WaitForCloseAsync());
        Assert.Equal("No target with given id found", viewer.CloseStatusDescription);
        await Eventually.TrueAsync(() => stub.OpenSockets == 0 && !gateway.Services<LiveViewHub>().SessionOpen, "the session closed with nobody watching");
        Assert.Equal(0, gateway.Services<LiveViewHub>().ScreencastsStarted);
    }

    [Fact]
    public async Task ABrowserRestartEndsTheViewersStreamWithAReason_AndThePageCanBeWatchedAgainOnTheNewBrowser()
    {
        await using var stub = await ScreencastBrowserStub.StartAsync();
        await using var successor = await ScreencastBrowserStub.StartAsync();
        successor.PageIds[0] = stub.PageIds[0];
        await using var gateway = await TestGateway.StartAsync(o => o.LiveView = true, withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);
        var hub = gateway.Services<LiveViewHub>();
        using var viewer = await WatchAsync(gateway, stub.PageIds[0]);
        await ReceiveJsonAsync(viewer);
        await ReceiveFrameAsync(viewer);

        gateway.App.Tracker.Set(successor.BrowserUrl);

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await viewer.WaitForCloseAsync());
        Assert.Equal(LiveViewHub.BrowserRestarted, viewer.CloseStatusDescription);
        await Eventually.TrueAsync(() => stub.OpenSockets == 0 && hub.ScreencastsStopped == 1, "the old browser's session closed");

        using var again = await WatchAsync(gateway, successor.PageIds[0]);
        await ReceiveJsonAsync(again);
        await ReceiveFrameAsync(again);
        Assert.Equal(1, successor.Count("Page.startScreencast"));
        Assert.Equal(2, hub.ScreencastsStarted);
    }

    [Fact]
    public async Task AGatewayThatStopsTellsItsViewersAtOnce_AndStopsTheScreencast()
    {
        await using var stub = await ScreencastBrowserStub.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o => o.LiveView = true, withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);
        using var viewer = await WatchAsync(gateway, stub.PageIds[0]);
        await ReceiveJsonAsync(viewer);
        await ReceiveFrameAsync(viewer);

        var stopping = gateway.App.StopAsync();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await viewer.WaitForCloseAsync());
        Assert.Equal("the gateway is stopping", viewer.CloseStatusDescription);
        await stopping.WaitAsync(TestGateway.Patience);
        Assert.Equal(1, stub.Count("Page.stopScreencast"));
        await Eventually.TrueAsync(() => stub.OpenSockets == 0, "the session to the browser closed");
    }

    [Fact]
    public async Task APageOfAnotherOriginCannotOpenTheViewersWebSocket()
    {
        await using var stub = await ScreencastBrowserStub.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o => o.LiveView = true, withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);

        // A WebSocket is not held back by CORS: a page elsewhere could open one to 127.0.0.1 if the Origin were not checked.
        using var hijack = new ClientWebSocket();
        hijack.Options.CollectHttpResponseDetails = true;
        hijack.Options.SetRequestHeader("Origin", "http://evil.example");
        await Assert.ThrowsAsync<WebSocketException>(() => hijack.ConnectAsync(LiveUri(gateway, stub.PageIds[0]), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, hijack.HttpStatusCode);
        Assert.Equal(0, stub.SocketsOpened);
    }

    [Fact]
    public async Task WithAToken_TheLiveViewNeedsIt_AndTheViewersWebSocketTakesItInTheQuery()
    {
        const string token = "live-view-token-0123456789";
        await using var stub = await ScreencastBrowserStub.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.LiveView = true;
            o.Token = token;
        }, withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);
        var page = stub.PageIds[0];

        using (var refused = await Http.GetAsync(gateway.ApiHttp("/live/targets")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }
        using var anonymous = new ClientWebSocket();
        anonymous.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => anonymous.ConnectAsync(LiveUri(gateway, page), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.HttpStatusCode);
        Assert.Equal(0, stub.SocketsOpened);

        using var listed = await Http.GetAsync(gateway.ApiHttp("/live/targets?token=" + token));
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        using var viewer = new ClientWebSocket();
        await viewer.ConnectAsync(new Uri(LiveUri(gateway, page) + "?token=" + token), CancellationToken.None);
        await ReceiveJsonAsync(viewer);
        await ReceiveFrameAsync(viewer);
    }

    [Fact]
    public async Task ASlowViewerSkipsFramesAndKeepsTheLatest_WhileItsInputMarksWaitInOrder()
    {
        var viewer = new LiveViewer("T");
        for (var i = 1; i <= 5; i++)
        {
            viewer.OfferFrame(new ViewerMessage(true, new[] { (byte)i }));
        }
        viewer.OfferInput(new ViewerMessage(false, "a"u8.ToArray()));
        viewer.OfferInput(new ViewerMessage(false, "b"u8.ToArray()));

        var batch = await viewer.NextBatchAsync(CancellationToken.None);

        Assert.Equal(4, viewer.FramesDropped);
        Assert.Equal(["a", "b"], batch.Where(m => !m.Binary).Select(m => Encoding.UTF8.GetString(m.Data.Span)));
        Assert.Equal(5, batch.Single(m => m.Binary).Data.Span[0]);
    }

    /// <summary>A stub browser with two pages, a gateway with the live view on, and a viewer of the first page past its first frame.</summary>
    private sealed class TwoPagesWatched(ScreencastBrowserStub stub, TestGateway gateway, WebSocket viewer) : IAsyncDisposable
    {
        public ScreencastBrowserStub Stub => stub;
        public TestGateway Gateway => gateway;
        public WebSocket Viewer => viewer;
        public string Watched => stub.PageIds[0];

        public async ValueTask DisposeAsync()
        {
            viewer.Dispose();
            await gateway.DisposeAsync();
            await stub.DisposeAsync();
        }
    }

    private static async Task<TwoPagesWatched> TwoPagesWatchedAsync()
    {
        var stub = await ScreencastBrowserStub.StartAsync();
        stub.PageIds.Add(Guid.NewGuid().ToString("N").ToUpperInvariant());
        var gateway = await TestGateway.StartAsync(o => o.LiveView = true, withBrowser: false);
        gateway.App.Tracker.Set(stub.BrowserUrl);
        var viewer = await WatchAsync(gateway, stub.PageIds[0]);
        await ReceiveJsonAsync(viewer);
        await ReceiveFrameAsync(viewer);
        return new TwoPagesWatched(stub, gateway, viewer);
    }

    private static string Click(int id, string? sessionId, int x, int y) =>
        $$$"""{"id":{{{id}}},{{{(sessionId is null ? "" : $"\"sessionId\":\"{sessionId}\",")}}}"method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":{{{x}}},"y":{{{y}}},"button":"left","clickCount":1}}""";

    /// <summary>
    /// Attaches a browser connection to a page through a flattened session, as Playwright and Puppeteer do, and returns the
    /// session id Chromium announced (its <c>Target.attachedToTarget</c> event comes before the answer).
    /// </summary>
    private static async Task<string> AttachAsync(WebSocket client, int id, string targetId)
    {
        await client.SendTextAsync($$$"""{"id":{{{id}}},"method":"Target.attachToTarget","params":{"targetId":"{{{targetId}}}","flatten":true}}""");
        var announced = await ReceiveJsonAsync(client);
        Assert.Equal("Target.attachedToTarget", announced.GetProperty("method").GetString());
        var answer = await ReceiveJsonAsync(client);
        Assert.Equal(id, answer.GetProperty("id").GetInt32());
        var sessionId = announced.GetProperty("params").GetProperty("sessionId").GetString()!;
        Assert.Equal(sessionId, answer.GetProperty("result").GetProperty("sessionId").GetString());
        return sessionId;
    }

    private static Uri LiveUri(TestGateway gateway, string targetId) => new($"ws://127.0.0.1:{gateway.App.ApiPort}/live/{targetId}");

    private static async Task<ClientWebSocket> WatchAsync(TestGateway gateway, string targetId)
    {
        var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TestGateway.Patience);
        await socket.ConnectAsync(LiveUri(gateway, targetId), timeout.Token);
        return socket;
    }

    private static async Task<string> ReceiveAsync(WebSocket socket)
    {
        var (type, data) = await socket.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, type);
        return Encoding.UTF8.GetString(data);
    }

    private static async Task<JsonElement> ReceiveJsonAsync(WebSocket socket) => JsonDocument.Parse(await ReceiveAsync(socket)).RootElement;

    private static async Task<(JsonElement Metadata, byte[] Image)> ReceiveFrameAsync(WebSocket socket)
    {
        var (type, data) = await socket.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, type);
        var length = BinaryPrimitives.ReadInt32BigEndian(data);
        var metadata = JsonDocument.Parse(data.AsMemory(4, length)).RootElement;
        return (metadata, data[(4 + length)..]);
    }
}
