using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CdpGateway.Tests.Support;

/// <summary>
/// A client on a bare socket, for what a well-behaved WebSocket client cannot send: frames that break the protocol,
/// or frames in the very packet that carries the upgrade.
/// </summary>
public sealed class RawCdpClient : IDisposable
{
    private readonly Socket _socket = new(SocketType.Stream, ProtocolType.Tcp);
    private readonly List<byte> _received = [];

    public static async Task<RawCdpClient> UpgradeAsync(int port, byte[]? withUpgrade = null, string path = "/devtools/browser/any")
    {
        var client = new RawCdpClient();
        await client._socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        byte[] upgrade = Encoding.ASCII.GetBytes(
            $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        // One write: the frames arrive with the upgrade, as a client that does not wait for the 101 sends them.
        await client._socket.SendAsync(upgrade.Concat(withUpgrade ?? []).ToArray(), SocketFlags.None);
        var head = await client.ReadHeadAsync();
        Assert.StartsWith("HTTP/1.1 101", head);
        return client;
    }

    public Task<int> SendAsync(byte[] bytes) => _socket.SendAsync(bytes, SocketFlags.None);

    /// <summary>Sends filler until the connection refuses it or <paramref name="stop"/> is cancelled.</summary>
    public async Task SendUntilRefusedAsync(CancellationToken stop)
    {
        var filler = new byte[16 * 1024];
        try
        {
            while (await _socket.SendAsync(filler, SocketFlags.None, stop) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The gateway's close frame (skipping any data frames before it): its code and text.</summary>
    public async Task<(int Code, string Text)> ReadCloseAsync()
    {
        while (true)
        {
            await FillAsync(2);
            int length = _received[1] & 0x7F;
            int headerLength = length == 126 ? 4 : length == 127 ? 10 : 2;
            await FillAsync(headerLength);
            long payload = length switch
            {
                126 => BinaryPrimitives.ReadUInt16BigEndian(_received.GetRange(2, 2).ToArray()),
                127 => BinaryPrimitives.ReadInt64BigEndian(_received.GetRange(2, 8).ToArray()),
                _ => length,
            };
            await FillAsync(headerLength + (int)payload);
            byte[] frame = _received.GetRange(0, headerLength + (int)payload).ToArray();
            _received.RemoveRange(0, frame.Length);
            if ((frame[0] & 0x0F) == 0x8)
            {
                return (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(headerLength)), Encoding.UTF8.GetString(frame.AsSpan(headerLength + 2)));
            }
        }
    }

    /// <summary>Reads until the gateway closes the connection (end of stream or reset); false if it is still open after <paramref name="within"/>.</summary>
    public async Task<bool> ClosedByPeerWithinAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var buffer = new byte[4096];
        try
        {
            while (await _socket.ReceiveAsync(buffer, timeout.Token) > 0)
            {
            }
            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose() => _socket.Dispose();

    private async Task<string> ReadHeadAsync()
    {
        while (true)
        {
            var text = Encoding.ASCII.GetString(_received.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                _received.RemoveRange(0, end + 4);
                return text[..end];
            }
            await ReceiveMoreAsync();
        }
    }

    private async Task FillAsync(int count)
    {
        while (_received.Count < count)
        {
            await ReceiveMoreAsync();
        }
    }

    private async Task ReceiveMoreAsync()
    {
        using var timeout = new CancellationTokenSource(TestGateway.Patience);
        var buffer = new byte[4096];
        int read = await _socket.ReceiveAsync(buffer, timeout.Token);
        if (read == 0)
        {
            throw new IOException("the gateway closed the connection");
        }
        _received.AddRange(buffer.AsSpan(0, read));
    }
}
