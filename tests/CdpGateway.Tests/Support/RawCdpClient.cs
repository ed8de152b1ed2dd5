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

    /// <param name="receiveBuffer">A small kernel receive buffer makes a client that stops reading hold the gateway up soon.</param>
    public static async Task<RawCdpClient> UpgradeAsync(int port, byte[]? withUpgrade = null, string path = "/devtools/browser/any",
        int? receiveBuffer = null)
    {
        var client = new RawCdpClient();
        if (receiveBuffer is { } size)
        {
            client._socket.ReceiveBufferSize = size;
        }
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

    /// <summary>The client's own address and port, as the gateway sees its peer.</summary>
    public IPEndPoint LocalEndPoint
    {
        get
        {
            // The socket is dual-mode: its IPv4 address reads as an IPv4-mapped IPv6 one.
            var local = (IPEndPoint)_socket.LocalEndPoint!;
            return local.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(local.Address.MapToIPv4(), local.Port) : local;
        }
    }

    /// <summary>Bytes the kernel holds for this client that it has not read yet.</summary>
    public int Available => _socket.Available;

    /// <summary>What a client read of the gateway's frame stream up to its end.</summary>
    /// <param name="DataFrames">The payload length of each whole data frame, in order.</param>
    /// <param name="CloseCode">The code of a whole close frame that followed them, or null.</param>
    /// <param name="Trailing">Bytes after the last whole frame when the stream ended: a frame cut off.</param>
    public sealed record FrameStream(IReadOnlyList<long> DataFrames, int? CloseCode, int Trailing);

    /// <summary>
    /// Reads every frame the gateway sends until its close frame or the end of the stream (a reset counts as the end),
    /// parsing strictly: a close frame cut off or inside another frame is no close frame.
    /// </summary>
    public async Task<FrameStream> ReadFrameStreamAsync()
    {
        var frames = new List<long>();
        var buffer = new byte[256 * 1024];
        var held = _received.ToArray();
        _received.Clear();
        var filled = held.Length;
        if (filled > buffer.Length)
        {
            Array.Resize(ref buffer, filled);
        }
        held.CopyTo(buffer, 0);
        // Where the frame being read stands: payload still to skip once its header is read.
        long skip = 0;
        using var timeout = new CancellationTokenSource(TestGateway.Patience);
        while (true)
        {
            var pos = 0;
            while (true)
            {
                if (skip > 0)
                {
                    var take = (int)Math.Min(skip, filled - pos);
                    skip -= take;
                    pos += take;
                    if (skip > 0)
                    {
                        break;
                    }
                    continue;
                }
                if (filled - pos < 2)
                {
                    break;
                }
                int length = buffer[pos + 1] & 0x7F;
                int headerLength = (length == 126 ? 4 : length == 127 ? 10 : 2) + ((buffer[pos + 1] & 0x80) != 0 ? 4 : 0);
                if (filled - pos < headerLength)
                {
                    break;
                }
                long payload = length switch
                {
                    126 => BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(pos + 2)),
                    127 => BinaryPrimitives.ReadInt64BigEndian(buffer.AsSpan(pos + 2)),
                    _ => length,
                };
                if ((buffer[pos] & 0x0F) == 0x8)
                {
                    if (filled - pos < headerLength + payload)
                    {
                        break;
                    }
                    return new FrameStream(frames, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(pos + headerLength)), 0);
                }
                frames.Add(payload);
                pos += headerLength;
                skip = payload;
            }
            buffer.AsSpan(pos, filled - pos).CopyTo(buffer);
            filled -= pos;
            int read;
            try
            {
                read = await _socket.ReceiveAsync(buffer.AsMemory(filled), timeout.Token);
            }
            catch (SocketException)
            {
                read = 0;
            }
            if (read == 0)
            {
                if (skip > 0 && frames.Count > 0)
                {
                    // The last frame counted was never finished.
                    frames.RemoveAt(frames.Count - 1);
                    return new FrameStream(frames, null, (int)Math.Max(1, filled));
                }
                return new FrameStream(frames, null, filled);
            }
            filled += read;
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
