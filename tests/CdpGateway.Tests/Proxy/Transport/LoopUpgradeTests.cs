using System.Net;
using System.Net.Sockets;
using System.Text;
using CdpGateway.Hosting;
using CdpGateway.Proxy.Transport;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy.Transport;

/// <summary>
/// The CDP port answers plain upgrades itself and leaves everything else to Kestrel: whichever way a request goes, the
/// client sees the same gateway. Over raw TCP, so how the request arrives is the test's choice.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class LoopUpgradeTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    private static byte[] Request(string path = "/devtools/browser/any", string extra = "") => Encoding.ASCII.GetBytes(
        $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: {Key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n");

    [Fact]
    public async Task ARequestThatComesInPiecesIsStillUpgradedAndRelayed()
    {
        await using var gw = await TestGateway.StartAsync();
        using var socket = await ConnectAsync(gw);
        var request = Request();

        await socket.SendAsync(request.AsMemory(0, 20));
        await Task.Delay(50);
        await socket.SendAsync(request.AsMemory(20));

        Assert.StartsWith("HTTP/1.1 101", await ReadHeadAsync(socket));
        Assert.Equal("{\"id\":1}", await EchoAsync(socket, "{\"id\":1}"));
    }

    [Fact]
    public async Task FramesSentRightBehindTheRequestReachTheBrowserFirstAndInOrder()
    {
        await using var gw = await TestGateway.StartAsync();
        using var socket = await ConnectAsync(gw);

        await socket.SendAsync((byte[])[.. Request(), .. Frames.Text("{\"id\":1}", masked: true), .. Frames.Text("{\"id\":2}", masked: true)]);

        Assert.StartsWith("HTTP/1.1 101", await ReadHeadAsync(socket));
        Assert.Equal("{\"id\":1}", await ReadTextAsync(socket));
        Assert.Equal("{\"id\":2}", await ReadTextAsync(socket));
    }

    [Fact]
    public async Task AnUpgradeLeftToKestrelKeepsTheFramesSentRightBehindItsRequest()
    {
        // An escaped path is Kestrel's to decode, so this request and the bytes read with it go to Kestrel.
        await using var gw = await TestGateway.StartAsync(o => o.Token = "s3cret");
        using var socket = await ConnectAsync(gw);

        // The first message is larger than one read of Kestrel's, so part of it is still unread when the upgrade is done.
        var large = "{\"id\":1,\"params\":\"" + new string('x', 6000) + "\"}";
        await socket.SendAsync((byte[])[.. Request("/devtools/browser/an%79?token=s3cret"), .. Frames.Text(large, masked: true),
            .. Frames.Text("{\"id\":2}", masked: true)]);

        Assert.StartsWith("HTTP/1.1 101", await ReadHeadAsync(socket));
        Assert.Equal(large, await ReadTextAsync(socket));
        Assert.Equal("{\"id\":2}", await ReadTextAsync(socket));
    }

    [EpollFact]
    public async Task AClientSilentPastTheFirstBytesWaitIsStillAnsweredWhenItAsks()
    {
        await using var gw = await TestGateway.StartAsync();
        using var socket = await ConnectAsync(gw);

        // Past the wait the connection is Kestrel's to read: the request that comes later is answered all the same.
        var acceptor = gw.App.Services.GetService(typeof(LoopUpgradeAcceptor)) as LoopUpgradeAcceptor
            ?? throw new InvalidOperationException("the CDP port's own upgrade path runs with the epoll relay (CDPGW_EPOLL_RELAY=0 switches it off)");
        await Eventually.TrueAsync(() => acceptor.Running != 0, "the connection taken by the upgrade acceptor");
        Assert.Equal(1, acceptor.Running);
        // The wait's timer starts just after the connection is taken: the clock moves on until it has fired.
        await Eventually.TrueAsync(() =>
        {
            gw.Clock.Advance(LoopUpgradeAcceptor.FirstBytesWait);
            return acceptor.Running == 0;
        }, "the first bytes' wait over");
        await socket.SendAsync(Request());

        Assert.StartsWith("HTTP/1.1 101", await ReadHeadAsync(socket));
        Assert.Equal("{\"id\":7}", await EchoAsync(socket, "{\"id\":7}"));
    }

    [Fact]
    public async Task AClientThatLeavesBeforeSayingAnythingLeavesNoConnectionBehind()
    {
        await using var gw = await TestGateway.StartAsync(o => o.MaxConnections = 1);
        for (int i = 0; i < 3; i++)
        {
            using var silent = await ConnectAsync(gw);
            silent.Close();
        }

        // The one slot is free: a real client gets in, and it is the only connection reported.
        using var client = await gw.ConnectAsync();
        Assert.Equal("hello", await client.EchoAsync("hello"));
        Assert.Single(gw.EventsOfType(ConnectionEventTypes.Connect));
    }

    [Theory]
    [InlineData("/devtools/browser/any?token=s3cret", "", "101")]                 // answered on the loop
    [InlineData("/devtools/browser/any", "Authorization: Bearer s3cret\r\n", "101")]
    [InlineData("/devtools/browser/any?token=s3cr%65t", "", "101")]             // decoded as Kestrel decodes it
    [InlineData("/devtools/browser/any?token=s3cret&token=s3cret", "", "401")]  // a repeated token is no token
    [InlineData("/devtools/browser/an%79?token=s3cret", "", "101")]             // an escaped path: Kestrel's
    [InlineData("/devtools/browser/any?token=wrong", "", "401")]
    [InlineData("/devtools/browser/any", "Authorization: Bearer wrong\r\n", "401")]
    [InlineData("/devtools/browser/any?token=s3cret", "Origin: http://evil.example\r\n", "403")]
    [InlineData("/devtools/browser/any?token=s3cret", "Origin: http://ok.example/\r\n", "101")]
    public async Task TheTokenAndOriginRulesHoldWhicheverWayTheRequestGoes(string path, string headers, string status)
    {
        await using var gw = await TestGateway.StartAsync(o =>
        {
            o.Token = "s3cret";
            o.AllowedOrigins = "http://ok.example";
        });
        using var socket = await ConnectAsync(gw);

        await socket.SendAsync(Request(path, headers));

        Assert.StartsWith("HTTP/1.1 " + status, await ReadHeadAsync(socket));
        if (status == "101")
        {
            Assert.Equal("{\"id\":3}", await EchoAsync(socket, "{\"id\":3}"));
        }
        else
        {
            Assert.Empty(gw.AllEvents());
        }
    }

    [Fact]
    public async Task BeforeAnyBrowserAnUpgradeGets503NamingWhy()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        using var socket = await ConnectAsync(gw);

        await socket.SendAsync(Request());

        var answer = await ReadAnswerAsync(socket);
        Assert.StartsWith("HTTP/1.1 503", answer);
        Assert.Contains("no browser yet", answer);
    }

    private static async Task<Socket> ConnectAsync(TestGateway gw)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gw.App.CdpPort));
        return socket;
    }

    private static async Task<string> EchoAsync(Socket socket, string text)
    {
        await socket.SendAsync(Frames.Text(text, masked: true));
        return await ReadTextAsync(socket);
    }

    /// <summary>The answer's head, read a byte at a time so nothing after it is taken.</summary>
    private static async Task<string> ReadHeadAsync(Socket socket)
    {
        var head = new List<byte>();
        var one = new byte[1];
        using var timeout = new CancellationTokenSource(TestGateway.Patience);
        while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await socket.ReceiveAsync(one, timeout.Token) == 0)
            {
                break;
            }
            head.Add(one[0]);
        }
        return Encoding.ASCII.GetString(head.ToArray());
    }

    /// <summary>The whole answer, to the end of its body (Content-Length, or chunks until the last one).</summary>
    private static async Task<string> ReadAnswerAsync(Socket socket)
    {
        var head = await ReadHeadAsync(socket);
        var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (lengthLine is not null)
        {
            var body = new byte[int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)];
            await ReadExactlyAsync(socket, body);
            return head + Encoding.UTF8.GetString(body);
        }
        var chunked = new StringBuilder();
        var one = new byte[1];
        while (!chunked.ToString().EndsWith("0\r\n\r\n", StringComparison.Ordinal))
        {
            await ReadExactlyAsync(socket, one);
            chunked.Append((char)one[0]);
        }
        return head + chunked;
    }

    /// <summary>One unmasked text frame from the gateway (payloads under 64 KiB).</summary>
    private static async Task<string> ReadTextAsync(Socket socket)
    {
        var header = new byte[2];
        await ReadExactlyAsync(socket, header);
        Assert.Equal(0x81, header[0]);
        int length = header[1];
        if (length == 126)
        {
            var extended = new byte[2];
            await ReadExactlyAsync(socket, extended);
            length = (extended[0] << 8) | extended[1];
        }
        var payload = new byte[length];
        await ReadExactlyAsync(socket, payload);
        return Encoding.UTF8.GetString(payload);
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] buffer)
    {
        using var timeout = new CancellationTokenSource(TestGateway.Patience);
        for (int read = 0; read < buffer.Length;)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), timeout.Token);
            Assert.NotEqual(0, n);
            read += n;
        }
    }
}
