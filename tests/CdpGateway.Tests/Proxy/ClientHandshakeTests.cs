using System.Net;
using System.Net.Sockets;
using System.Text;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>The gateway's own server handshake, over raw TCP so every header is the test's choice.</summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class ClientHandshakeTests
{
    [Fact]
    public void TheAcceptValueIsTheRfcExample() =>
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", ClientHandshake.AcceptFor("dGhlIHNhbXBsZSBub25jZQ=="));

    [Fact]
    public async Task AValidUpgradeGets101WithTheAcceptAndNoExtensionOrSubprotocol()
    {
        await using var gw = await TestGateway.StartAsync();

        var answer = await UpgradeAsync(gw, "dGhlIHNhbXBsZSBub25jZQ==", "13",
            "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Protocol: cdp\r\n");

        Assert.StartsWith("HTTP/1.1 101", answer);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", answer, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Upgrade: websocket", answer, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Sec-WebSocket-Extensions", answer, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Sec-WebSocket-Protocol", answer, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("dGhlIHNhbXBsZSBub25jZQ==", "12")]   // another version
    [InlineData("c2hvcnQ=", "13")]                    // a key that is not 16 bytes
    [InlineData("not base64 at all!", "13")]
    public async Task AnUpgradeKestrelsWebSocketsWouldRefuseGets400(string key, string version)
    {
        await using var gw = await TestGateway.StartAsync();

        var answer = await UpgradeAsync(gw, key, version);

        Assert.StartsWith("HTTP/1.1 400", answer);
        Assert.Empty(gw.AllEvents());
    }

    [Fact]
    public async Task AClientThatBreaksTheProtocolIsToldHowWith1002()
    {
        await using var gw = await TestGateway.StartAsync();
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        var answer = await UpgradeAsync(gw, "dGhlIHNhbXBsZSBub25jZQ==", "13", socket: socket);
        Assert.StartsWith("HTTP/1.1 101", answer);
        await gw.WaitForEventAsync(ConnectionEventTypes.Connect);

        // A text frame "hi" without the mask every client frame must carry.
        await socket.SendAsync(new byte[] { 0x81, 0x02, (byte)'h', (byte)'i' });

        var frame = new byte[256];
        var length = 0;
        using var timeout = new CancellationTokenSource(TestGateway.Patience);
        while (length < 2 || length < 2 + frame[1])
        {
            var read = await socket.ReceiveAsync(frame.AsMemory(length), timeout.Token);
            Assert.NotEqual(0, read);
            length += read;
        }
        Assert.Equal(0x88, frame[0]); // a close frame, unmasked
        Assert.Equal(1002, (frame[2] << 8) | frame[3]);
        Assert.Equal("protocol error: client frames must be masked", Encoding.UTF8.GetString(frame, 4, frame[1] - 2));
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.ClientClose.WireName(), data.GetProperty("reason").GetString());
        Assert.Equal(1002, data.GetProperty("close_code").GetInt32());
        Assert.Equal(0, data.GetProperty("messages_from_client").GetInt64());
    }

    private static async Task<string> UpgradeAsync(TestGateway gw, string key, string version, string extraHeaders = "", Socket? socket = null)
    {
        using var owned = socket is null ? new Socket(SocketType.Stream, ProtocolType.Tcp) : null;
        socket ??= owned!;
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gw.App.CdpPort));
        var request = "GET /devtools/browser/any HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extraHeaders}\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        var buffer = new byte[4096];
        var length = 0;
        using var timeout = new CancellationTokenSource(TestGateway.Patience);
        while (Encoding.ASCII.GetString(buffer, 0, length).IndexOf("\r\n\r\n", StringComparison.Ordinal) < 0)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(length), timeout.Token);
            if (read == 0)
            {
                break;
            }
            length += read;
        }
        return Encoding.ASCII.GetString(buffer, 0, length);
    }
}
