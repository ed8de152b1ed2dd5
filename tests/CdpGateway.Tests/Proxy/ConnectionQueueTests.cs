using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>
/// Upgrades beyond --max-connections wait in --queue for a slot. Over raw TCP, so a test sees exactly when the 101 comes
/// and can drop a waiting client's socket; whichever relay runs (CDPGW_EPOLL_RELAY=0 runs them on Kestrel's sockets).
/// </summary>
public sealed class ConnectionQueueTests
{
    private static readonly TimeSpan QueueTimeout = TimeSpan.FromSeconds(10);

    private static Task<TestGateway> StartAsync(int queue = 2) => TestGateway.StartAsync(o =>
    {
        o.MaxConnections = 1;
        o.Queue = queue;
        o.QueueTimeout = QueueTimeout;
    });

    [Fact]
    public async Task QueuedClientsGetTheirUpgradeInTurnAsSlotsFreeAndOneBeyondTheQueueGets429()
    {
        await using var gw = await StartAsync();
        var limiter = gw.Services<ConnectionLimiter>();
        using var first = await RawClient.StartUpgradeAsync(gw);
        Assert.StartsWith("HTTP/1.1 101", await first.ReadHeadAsync());
        using var second = await RawClient.StartUpgradeAsync(gw);
        await Eventually.TrueAsync(() => limiter.Queued == 1, "1 queued");
        using var third = await RawClient.StartUpgradeAsync(gw);
        await Eventually.TrueAsync(() => limiter.Queued == 2, "2 queued");

        using var fourth = await RawClient.StartUpgradeAsync(gw);
        var refused = await fourth.ReadAnswerAsync();
        Assert.StartsWith("HTTP/1.1 429", refused);
        Assert.Contains("queue of 2 waiting upgrades is full (--queue)", refused);
        Assert.Contains("--max-connections", refused);
        // Waiters have no connection yet, so no cdp_connect either.
        Assert.Single(gw.EventsOfType(ConnectionEventTypes.Connect));

        first.Dispose();
        Assert.StartsWith("HTTP/1.1 101", await second.ReadHeadAsync());
        Assert.Equal("{\"id\":2}", await second.EchoAsync("{\"id\":2}"));
        Assert.Equal(1, limiter.Queued);

        second.Dispose();
        Assert.StartsWith("HTTP/1.1 101", await third.ReadHeadAsync());
        Assert.Equal("{\"id\":3}", await third.EchoAsync("{\"id\":3}"));
        Assert.Equal(0, limiter.Queued);
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect, count: 2);
        Assert.Equal(3, gw.EventsOfType(ConnectionEventTypes.Connect).Count);
    }

    [Fact]
    public async Task AQueuedClientWhoseWaitRunsOutGets429NamingTheQueueTimeout()
    {
        await using var gw = await StartAsync();
        var limiter = gw.Services<ConnectionLimiter>();
        using var holder = await gw.ConnectAsync();
        using var waiting = await RawClient.StartUpgradeAsync(gw);
        await Eventually.TrueAsync(() => limiter.Queued == 1, "1 queued");

        // The waiter shows in the queue a moment before its timer is set: step until the answer comes.
        var refused = await gw.AdvanceUntilAsync(waiting.ReadAnswerAsync(), QueueTimeout);

        Assert.StartsWith("HTTP/1.1 429", refused);
        Assert.Contains("no slot came free within 10s (--queue-timeout)", refused);
        Assert.Equal(0, limiter.Queued);
        Assert.Equal(1, limiter.RefusedQueueTimeout);
        Assert.Equal("{}", await holder.EchoAsync("{}"));
    }

    [Fact]
    public async Task AQueuedClientThatLeavesGivesUpItsPlaceAtOnce()
    {
        await using var gw = await StartAsync(queue: 1);
        var limiter = gw.Services<ConnectionLimiter>();
        using var holder = await gw.ConnectAsync();
        var leaving = await RawClient.StartUpgradeAsync(gw);
        await Eventually.TrueAsync(() => limiter.Queued == 1, "1 queued");

        leaving.Dispose();
        await Eventually.TrueAsync(() => limiter.Queued == 0, "0 queued");

        // Its place is free for the next one, who gets the slot when it frees.
        using var next = await RawClient.StartUpgradeAsync(gw);
        await Eventually.TrueAsync(() => limiter.Queued == 1, "1 queued");
        await holder.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        Assert.StartsWith("HTTP/1.1 101", await next.ReadHeadAsync());
        Assert.Equal("{}", await next.EchoAsync("{}"));
        Assert.Equal(0, limiter.RefusedQueueFull + limiter.RefusedQueueTimeout);
        Assert.Equal(2, gw.EventsOfType(ConnectionEventTypes.Connect).Count);
    }

    [Fact]
    public async Task HealthAndMetricsShowTheQueuedUpgradesAndTheRefusals()
    {
        await using var gw = await StartAsync(queue: 1);
        var limiter = gw.Services<ConnectionLimiter>();
        using var holder = await gw.ConnectAsync();
        using var waiting = await RawClient.StartUpgradeAsync(gw);
        await Eventually.TrueAsync(() => limiter.Queued == 1, "1 queued");
        using var beyond = await RawClient.StartUpgradeAsync(gw);
        Assert.StartsWith("HTTP/1.1 429", await beyond.ReadAnswerAsync());

        using var http = new HttpClient();
        using var health = JsonDocument.Parse(await http.GetStringAsync(gw.ApiHttp("/health")));
        var connections = health.RootElement.GetProperty("connections");
        Assert.Equal(1, connections.GetProperty("open").GetInt32());
        Assert.Equal(1, connections.GetProperty("queued").GetInt32());
        var metrics = MetricsScrape.Parse(await http.GetStringAsync(gw.ApiHttp("/metrics")));
        Assert.Equal(1, metrics["cdp_gateway_connections_open"]);
        Assert.Equal(1, metrics["cdp_gateway_connections_queued"]);
        Assert.Equal(1, metrics["cdp_gateway_connections_rejected_total{cause=\"queue_full\"}"]);
        Assert.Equal(0, metrics["cdp_gateway_connections_rejected_total{cause=\"queue_timeout\"}"]);
        Assert.Equal(0, metrics["cdp_gateway_connections_rejected_total{cause=\"limit\"}"]);

        Assert.StartsWith("HTTP/1.1 429", await gw.AdvanceUntilAsync(waiting.ReadAnswerAsync(), QueueTimeout));
        metrics = MetricsScrape.Parse(await http.GetStringAsync(gw.ApiHttp("/metrics")));
        Assert.Equal(0, metrics["cdp_gateway_connections_queued"]);
        Assert.Equal(1, metrics["cdp_gateway_connections_rejected_total{cause=\"queue_timeout\"}"]);
    }

    [Fact]
    public async Task WithoutAQueueTheRefusalIsCountedAsTheLimit()
    {
        await using var gw = await StartAsync(queue: 0);
        using var holder = await gw.ConnectAsync();
        using var beyond = await RawClient.StartUpgradeAsync(gw);

        var refused = await beyond.ReadAnswerAsync();

        Assert.StartsWith("HTTP/1.1 429", refused);
        Assert.Contains("holds its limit of 1 (--max-connections)", refused);
        Assert.Equal(1, gw.Services<ConnectionLimiter>().RefusedAtLimit);
    }

    [Fact]
    public async Task StoppingTheGatewayAnswersQueuedUpgradesWith503()
    {
        await using var gw = await StartAsync();
        var limiter = gw.Services<ConnectionLimiter>();
        using var holder = await gw.ConnectAsync();
        using var waiting = await RawClient.StartUpgradeAsync(gw);
        await Eventually.TrueAsync(() => limiter.Queued == 1, "1 queued");

        var stopping = gw.App.StopAsync();
        var answer = await waiting.ReadAnswerAsync();
        await stopping;

        Assert.StartsWith("HTTP/1.1 503", answer);
        Assert.Contains("gateway shutting down", answer);
        Assert.Equal(0, limiter.Queued);
        Assert.Single(gw.EventsOfType(ConnectionEventTypes.Connect));
    }

    /// <summary>A client on a raw socket that sends its upgrade request and reads the answer itself.</summary>
    private sealed class RawClient : IDisposable
    {
        private readonly Socket _socket;

        private RawClient(Socket socket) => _socket = socket;

        /// <summary>Connects and sends the upgrade request; the answer is left to read.</summary>
        public static async Task<RawClient> StartUpgradeAsync(TestGateway gw)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gw.App.CdpPort));
            await socket.SendAsync(Encoding.ASCII.GetBytes(
                "GET /devtools/browser/any HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
            return new RawClient(socket);
        }

        /// <summary>The answer's head, read a byte at a time so no frame after it is taken.</summary>
        public async Task<string> ReadHeadAsync()
        {
            var head = new List<byte>();
            var one = new byte[1];
            using var timeout = new CancellationTokenSource(TestGateway.Patience);
            while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
            {
                if (await _socket.ReceiveAsync(one, timeout.Token) == 0)
                {
                    break;
                }
                head.Add(one[0]);
            }
            return Encoding.ASCII.GetString(head.ToArray());
        }

        /// <summary>A plain answer: its head and its body.</summary>
        public async Task<string> ReadAnswerAsync()
        {
            var head = await ReadHeadAsync();
            var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            if (lengthLine is not null)
            {
                var body = new byte[int.Parse(lengthLine["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture)];
                await ReadExactlyAsync(body);
                return head + Encoding.UTF8.GetString(body);
            }
            var chunked = new StringBuilder();
            var one = new byte[1];
            while (!chunked.ToString().EndsWith("0\r\n\r\n", StringComparison.Ordinal))
            {
                await ReadExactlyAsync(one);
                chunked.Append((char)one[0]);
            }
            return head + chunked;
        }

        public async Task<string> EchoAsync(string text)
        {
            await _socket.SendAsync(Frames.Text(text, masked: true));
            var header = new byte[2];
            await ReadExactlyAsync(header);
            Assert.Equal(0x81, header[0]);
            var payload = new byte[header[1]];
            await ReadExactlyAsync(payload);
            return Encoding.UTF8.GetString(payload);
        }

        private async Task ReadExactlyAsync(byte[] buffer)
        {
            using var timeout = new CancellationTokenSource(TestGateway.Patience);
            for (int read = 0; read < buffer.Length;)
            {
                int n = await _socket.ReceiveAsync(buffer.AsMemory(read), timeout.Token);
                Assert.NotEqual(0, n);
                read += n;
            }
        }

        public void Dispose() => _socket.Dispose();
    }
}
