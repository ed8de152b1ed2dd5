using System.Net.WebSockets;
using System.Text;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>Frames go through unchanged and in order, whatever they hold, up to the size limit.</summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class RelayTests
{
    public static TheoryData<string> AwkwardText => new()
    {
        "{\"id\":1,\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":\"1+",   // broken JSON
        "{\"id\":2,\"params\":{\"text\":\"\\ud800\"}}",                                   // a lone surrogate escape
        "{\"method\":\"A.b\",\"method\":\"C.d\",\"id\":3}",                                // duplicate keys
        "",                                                                                 // an empty message
        "not json at all \u00e9\u4e2d\U0001F600",
    };

    [Theory]
    [MemberData(nameof(AwkwardText))]
    public async Task AwkwardTextFramesComeBackByteForByte(string text)
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();

        await client.SendTextAsync(text);
        var (type, data) = await client.ReceiveMessageAsync();

        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal(Encoding.UTF8.GetBytes(text), data);
    }

    [Fact]
    public async Task BinaryFramesStayBinaryAndExact()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        var payload = new byte[70_000];
        new Random(7).NextBytes(payload);

        await client.SendAsync(payload, WebSocketMessageType.Binary, true, CancellationToken.None);
        var (type, data) = await client.ReceiveMessageAsync();

        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(payload, data);
    }

    [Fact]
    public async Task TwentyMebibyteMessagesGoBothWays()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        var payload = new byte[20 * 1024 * 1024];
        new Random(20).NextBytes(payload);
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)('a' + (payload[i] % 26)); // valid UTF-8 text
        }

        await client.SendAsync(payload, WebSocketMessageType.Text, true, CancellationToken.None);
        var (type, data) = await client.ReceiveMessageAsync();

        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.True(payload.AsSpan().SequenceEqual(data), "the 20 MiB message changed on the way");
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        var disconnect = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(payload.Length, disconnect.GetProperty("bytes_from_client").GetInt64());
        Assert.Equal(payload.Length, disconnect.GetProperty("bytes_from_upstream").GetInt64());
    }

    [Fact]
    public async Task ManyMessagesKeepTheirOrder()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        const int count = 500;

        var sender = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await client.SendTextAsync($"{{\"id\":{i}}}");
            }
        });
        for (var i = 0; i < count; i++)
        {
            var (_, data) = await client.ReceiveMessageAsync();
            Assert.Equal($"{{\"id\":{i}}}", Encoding.UTF8.GetString(data));
        }
        await sender;
    }

    [Fact]
    public async Task AClientMessageOverTheLimitClosesWith1009AsClientClose()
    {
        await using var gw = await TestGateway.StartAsync(o => o.MaxMessageBytes = 64 * 1024);
        using var client = await gw.ConnectAsync();
        Assert.Equal("ok", await client.EchoAsync("ok"));
        var closed = client.WaitForCloseAsync();

        await client.SendAsync(new byte[100 * 1024], WebSocketMessageType.Binary, true, CancellationToken.None);

        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await closed);
        Assert.Equal($"message too large: {100 * 1024} > {64 * 1024}", client.CloseStatusDescription);
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.ClientClose.WireName(), data.GetProperty("reason").GetString());
        Assert.Equal(1009, data.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public async Task AMessageExactlyAtTheLimitPasses()
    {
        await using var gw = await TestGateway.StartAsync(o => o.MaxMessageBytes = 64 * 1024);
        using var client = await gw.ConnectAsync();
        var payload = new byte[64 * 1024];

        await client.SendAsync(payload, WebSocketMessageType.Binary, true, CancellationToken.None);
        var (_, data) = await client.ReceiveMessageAsync();

        Assert.Equal(payload.Length, data.Length);
    }

    [Fact]
    public async Task NoCompressionIsNegotiatedOnEitherLeg()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync(configure: o =>
        {
            o.DangerousDeflateOptions = new WebSocketDeflateOptions();
            o.CollectHttpResponseDetails = true;
        });
        await client.EchoAsync("{}");

        Assert.False(client.HttpResponseHeaders!.ContainsKey("Sec-WebSocket-Extensions"));
        Assert.Null(gw.Browser.Upgrades.Single().SecWebSocketExtensions);
    }
}
