using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using CdpGateway.Proxy;

namespace CdpGateway.Tests.Proxy;

/// <summary>The browser leg's upgrade over a real socket: what the gateway asks, and which answers it takes.</summary>
public sealed class UpstreamHandshakeTests
{
    [Fact]
    public async Task AValidAnswerGivesTheLeg_WithTheBytesBehindIt_AndTheRequestIsAPlainUpgrade()
    {
        var (leg, error, request) = await DialAsync(key =>
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept:  " + ClientHandshake.AcceptFor(key) + " \r\n\r\n\u0081\u0002hi");
        Assert.Null(error);
        using (leg)
        {
            Assert.Equal(new byte[] { 0x81, 0x02, (byte)'h', (byte)'i' }, leg!.TakeUnread());
        }
        var lines = request.Split("\r\n");
        Assert.Equal("GET /devtools/browser/abc?x=1 HTTP/1.1", lines[0]);
        Assert.Matches(@"^Host: 127\.0\.0\.1:\d+$", lines[1]);
        Assert.Contains("Upgrade: websocket", lines);
        Assert.Contains("Connection: Upgrade", lines);
        Assert.Contains("Sec-WebSocket-Version: 13", lines);
        var key = lines.Single(l => l.StartsWith("Sec-WebSocket-Key: ", StringComparison.Ordinal))["Sec-WebSocket-Key: ".Length..];
        Assert.Equal(16, Convert.FromBase64String(key).Length);
        Assert.EndsWith("\r\n\r\n", request);
    }

    [Fact]
    public void TheLastHandshakeIsReusedForItsOwnUrlOnly()
    {
        var last = UpstreamHandshake.For("ws://127.0.0.1:9333/devtools/browser/a");
        Assert.Same(last, UpstreamHandshake.For("ws://127.0.0.1:9333/devtools/browser/a", last));
        var other = UpstreamHandshake.For("ws://127.0.0.1:9333/devtools/browser/b", last);
        Assert.NotSame(last, other);
        Assert.Equal("ws://127.0.0.1:9333/devtools/browser/b", other.Url);
        Assert.NotSame(last, UpstreamHandshake.For("ws://127.0.0.1:9333/devtools/browser/a"));
    }

    [Fact]
    public async Task EachDialSendsAKeyOfItsOwn()
    {
        var first = await DialAsync(key => "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: " + ClientHandshake.AcceptFor(key) + "\r\n\r\n");
        var second = await DialAsync(key => "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: " + ClientHandshake.AcceptFor(key) + "\r\n\r\n");
        first.Leg?.Dispose();
        second.Leg?.Dispose();
        Assert.NotEqual(KeyOf(first.Request), KeyOf(second.Request));
    }

    [Fact]
    public async Task ATargetPathLongerThanAUsualRequestGoesOutWhole()
    {
        var path = "/devtools/page/" + new string('P', 9000);
        var (leg, error, request) = await DialAsync(key => "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: " + ClientHandshake.AcceptFor(key) + "\r\n\r\n", path);
        leg?.Dispose();
        Assert.Null(error);
        Assert.StartsWith($"GET {path} HTTP/1.1\r\n", request);
        Assert.EndsWith("Sec-WebSocket-Version: 13\r\n\r\n", request);
    }

    [Theory]
    [InlineData("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "status code '404' when status code '101' was expected")]
    [InlineData("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n", "Sec-WebSocket-Accept does not match")]
    [InlineData("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r\n", "Sec-WebSocket-Accept does not match")]
    [InlineData("SIP/2.0 101 OK\r\n\r\n", "when status code '101' was expected")]
    [InlineData("garbage\r\n\r\n", "status code 'garbage'")]
    public async Task AnAnswerThatIsNotAnUpgradeOfOurKeyIsRefused_SayingWhy(string answer, string expected)
    {
        var (leg, error, _) = await DialAsync(_ => answer);
        Assert.Null(leg);
        var refused = Assert.IsType<WebSocketException>(error);
        Assert.Contains(expected, refused.Message);
    }

    [Fact]
    public async Task AnExtensionTheGatewayDidNotOfferIsRefused_Naming()
    {
        var (leg, error, _) = await DialAsync(key =>
            "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: " + ClientHandshake.AcceptFor(key) + "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
        Assert.Null(leg);
        Assert.Contains("extension the gateway did not offer: permessage-deflate", Assert.IsType<WebSocketException>(error).Message);
    }

    [Fact]
    public async Task AnUpstreamThatClosesBeforeItsAnswerEnds_IsNamed()
    {
        var (leg, error, _) = await DialAsync(_ => "HTTP/1.1 101 OK\r\nSec-WebSocket-Acc");
        Assert.Null(leg);
        Assert.Contains("closed the connection during the WebSocket upgrade", Assert.IsType<WebSocketException>(error).Message);
    }

    private static string KeyOf(string request) =>
        request.Split("\r\n").Single(l => l.StartsWith("Sec-WebSocket-Key: ", StringComparison.Ordinal));

    /// <summary>Dials a one-shot server on 127.0.0.1 that reads the request and writes <paramref name="answer"/> for its key, then closes.</summary>
    private static async Task<(WebSocketLeg? Leg, Exception? Error, string Request)> DialAsync(Func<string, string> answer,
        string pathAndQuery = "/devtools/browser/abc?x=1")
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var server = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptSocketAsync(timeout.Token);
            var received = new StringBuilder();
            var buffer = new byte[4096];
            while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                int read = await accepted.ReceiveAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    break;
                }
                received.Append(Encoding.Latin1.GetString(buffer, 0, read));
            }
            var request = received.ToString();
            var key = request.Split("\r\n").FirstOrDefault(l => l.StartsWith("Sec-WebSocket-Key: ", StringComparison.Ordinal))?["Sec-WebSocket-Key: ".Length..] ?? "";
            await accepted.SendAsync(Encoding.Latin1.GetBytes(answer(key)), timeout.Token);
            accepted.Shutdown(SocketShutdown.Send);
            // Until the gateway lets go, so the answer is read before the connection ends.
            while (await accepted.ReceiveAsync(buffer, timeout.Token) > 0)
            {
            }
            return request;
        });
        WebSocketLeg? leg = null;
        Exception? error = null;
        try
        {
            leg = await UpstreamDialer.ConnectAsync($"ws://127.0.0.1:{port}{pathAndQuery}", timeout.Token);
            leg.Abort();
        }
        catch (Exception ex)
        {
            error = ex;
        }
        return (leg, error, await server);
    }
}
