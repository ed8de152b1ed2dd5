using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using FakeChromium;

namespace CdpGateway.Tests.Browser;

public sealed class FakeDevToolsServerTests
{
    private static CancellationToken Timeout(int seconds = 30) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    private static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveMessageAsync(WebSocket socket, CancellationToken ct)
    {
        using var stream = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            stream.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, stream.ToArray());
            }
        }
    }

    [Fact]
    public async Task EchoesTextAndBinaryByteExactAndAnswersGetVersion()
    {
        await using var server = await FakeDevToolsServer.StartAsync();
        var ct = Timeout();
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(server.BrowserUrl), ct);
        await server.WaitForOpenSocketsAsync(1, ct);
        Assert.Equal(1, server.OpenSockets);

        // Broken JSON with a lone surrogate escape and duplicate keys: echoed untouched.
        var text = Encoding.UTF8.GetBytes("{\"id\":1,\"id\":2,\"s\":\"\\ud800\", broken");
        await socket.SendAsync(text, WebSocketMessageType.Text, true, ct);
        var echoed = await ReceiveMessageAsync(socket, ct);
        Assert.Equal(WebSocketMessageType.Text, echoed.Type);
        Assert.Equal(text, echoed.Data);

        // A multi-megabyte binary message sent in fragments comes back as one identical message.
        var binary = new byte[3 * 1024 * 1024 + 17];
        new Random(42).NextBytes(binary);
        for (var offset = 0; offset < binary.Length; offset += 1_000_000)
        {
            var count = Math.Min(1_000_000, binary.Length - offset);
            await socket.SendAsync(binary.AsMemory(offset, count), WebSocketMessageType.Binary, offset + count == binary.Length, ct);
        }
        echoed = await ReceiveMessageAsync(socket, ct);
        Assert.Equal(WebSocketMessageType.Binary, echoed.Type);
        Assert.Equal(binary, echoed.Data);

        await socket.SendAsync("{\"id\":7,\"method\":\"Browser.getVersion\"}"u8.ToArray(), WebSocketMessageType.Text, true, ct);
        echoed = await ReceiveMessageAsync(socket, ct);
        using (var doc = JsonDocument.Parse(echoed.Data))
        {
            Assert.Equal(7, doc.RootElement.GetProperty("id").GetInt32());
            Assert.Equal("FakeChromium/1.0", doc.RootElement.GetProperty("result").GetProperty("product").GetString());
        }

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", ct);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);

        var upgrade = Assert.Single(server.Upgrades);
        Assert.Equal($"/devtools/browser/{server.BrowserId}", upgrade.Path);
        Assert.Equal($"127.0.0.1:{server.Port}", upgrade.Host);
        Assert.Null(upgrade.Origin);
    }

    [Fact]
    public async Task PageSocketCloseAllAndAbortAll()
    {
        await using var server = await FakeDevToolsServer.StartAsync();
        var ct = Timeout();
        using var page = new ClientWebSocket();
        await page.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/devtools/page/{server.PageIds[0]}"), ct);
        using var browser = new ClientWebSocket();
        await browser.ConnectAsync(new Uri(server.BrowserUrl), ct);
        await server.WaitForOpenSocketsAsync(2, ct);

        await server.CloseAllAsync(WebSocketCloseStatus.EndpointUnavailable, "going");
        var result = await page.ReceiveAsync(new byte[16], ct);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, page.CloseStatus);

        using var other = new ClientWebSocket();
        await other.ConnectAsync(new Uri(server.BrowserUrl), ct);
        await server.WaitForOpenSocketsAsync(1, ct);
        server.AbortAll();
        await Assert.ThrowsAsync<WebSocketException>(async () => await other.ReceiveAsync(new byte[16], ct));
    }

    [Fact]
    public async Task HttpEndpointsCheckHostAndUnknownPathsGet404()
    {
        await using var server = await FakeDevToolsServer.StartAsync();
        var ct = Timeout();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}") };

        using (var version = await http.GetAsync("/json/version", ct))
        {
            Assert.Equal(HttpStatusCode.OK, version.StatusCode);
            using var doc = JsonDocument.Parse(await version.Content.ReadAsStringAsync(ct));
            Assert.Equal(server.BrowserUrl, doc.RootElement.GetProperty("webSocketDebuggerUrl").GetString());
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/json/version"))
        {
            request.Headers.Host = "gateway.example.com:9222";
            using var rejected = await http.SendAsync(request, ct);
            Assert.Equal(HttpStatusCode.InternalServerError, rejected.StatusCode);
            Assert.Equal("Host header is specified and is not an IP address or localhost.", await rejected.Content.ReadAsStringAsync(ct));
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/json/list"))
        {
            request.Headers.Host = "localhost:1234";
            using var list = await http.SendAsync(request, ct);
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            using var doc = JsonDocument.Parse(await list.Content.ReadAsStringAsync(ct));
            Assert.Equal(server.PageIds[0], doc.RootElement[0].GetProperty("id").GetString());
        }

        using (var created = await http.PutAsync("/json/new?about:blank", null, ct))
        {
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
            Assert.Equal(2, server.PageIds.Count);
        }
        using (var wrongVerb = await http.GetAsync("/json/new", ct))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongVerb.StatusCode);
        }
        using (var missing = await http.GetAsync("/json/activate/NOPE", ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("No such target id: NOPE", await missing.Content.ReadAsStringAsync(ct));
        }
        Assert.Equal("Target is closing", await http.GetStringAsync($"/json/close/{server.PageIds[1]}", ct));
        Assert.Single(server.PageIds);

        using var socket = new ClientWebSocket();
        var error = await Assert.ThrowsAsync<WebSocketException>(
            () => socket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/devtools/page/NOPE"), ct));
        Assert.Equal(WebSocketError.NotAWebSocket, error.WebSocketErrorCode);
        Assert.Empty(server.Upgrades);
    }
}
