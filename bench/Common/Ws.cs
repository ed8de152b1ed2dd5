using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Bench;

/// <summary>
/// A minimal RFC 6455 endpoint over a raw socket, written for the bench so that neither the load client
/// nor the stand-in upstream spends more CPU than it must: small buffers that grow only for large
/// messages, no per-message allocation, fragmented messages reassembled, no extensions.
/// The client masks with the all-zero key (legal: the mask bit is set and the key travels in the frame),
/// so it never copies a payload to mask it; the server unmasks whatever key it is sent.
/// </summary>
public sealed class WsConnection : IDisposable
{
    private const int InitialBytes = 4096;
    private readonly Socket _socket;
    private readonly bool _isClient;
    private byte[] _rb = new byte[InitialBytes];
    private int _rStart, _rEnd;
    private byte[] _msg = new byte[InitialBytes];
    private byte[] _sb = new byte[InitialBytes];

    private WsConnection(Socket socket, bool isClient)
    {
        _socket = socket;
        _isClient = isClient;
    }

    public Socket Socket => _socket;

    public static Socket NewSocket() => new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };

    /// <summary>Opens a WebSocket to ws://host:port/path (plain TCP, HTTP/1.1 upgrade).</summary>
    public static async Task<WsConnection> ConnectAsync(IPEndPoint endPoint, string path, CancellationToken ct = default)
    {
        var socket = NewSocket();
        try
        {
            await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
            var ws = new WsConnection(socket, isClient: true);
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var request = $"GET {path} HTTP/1.1\r\nHost: {endPoint}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await ws.SendAllAsync(Encoding.ASCII.GetBytes(request)).ConfigureAwait(false);
            var head = await ws.ReadHeadAsync().ConfigureAwait(false);
            if (!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
            {
                throw new IOException("upgrade refused: " + head.Split('\r')[0]);
            }
            return ws;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Server side: wraps an accepted socket; the caller reads the request head with <see cref="ReadHeadAsync"/>.</summary>
    public static WsConnection ForAccepted(Socket socket) => new(socket, isClient: false);

    public async Task AcceptUpgradeAsync(string head)
    {
        string? key = null;
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))
            {
                key = line["Sec-WebSocket-Key:".Length..].Trim();
            }
        }
        if (key is null)
        {
            throw new IOException("no Sec-WebSocket-Key");
        }
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        var response = $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n";
        await SendAllAsync(Encoding.ASCII.GetBytes(response)).ConfigureAwait(false);
    }

    /// <summary>Reads an HTTP head (up to the blank line); bytes after it stay buffered for the frames.</summary>
    public async Task<string> ReadHeadAsync()
    {
        int scanned = _rStart;
        while (true)
        {
            var idx = _rb.AsSpan(_rStart, _rEnd - _rStart).IndexOf("\r\n\r\n"u8);
            if (idx >= 0)
            {
                var head = Encoding.ASCII.GetString(_rb, _rStart, idx);
                _rStart += idx + 4;
                return head;
            }
            if (_rEnd - _rStart > 64 * 1024)
            {
                throw new IOException("HTTP head too large");
            }
            await FillAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask FillAsync()
    {
        if (_rStart > 0 && _rStart == _rEnd)
        {
            _rStart = _rEnd = 0;
        }
        if (_rEnd == _rb.Length)
        {
            if (_rStart > 0)
            {
                Buffer.BlockCopy(_rb, _rStart, _rb, 0, _rEnd - _rStart);
                _rEnd -= _rStart;
                _rStart = 0;
            }
            else
            {
                Array.Resize(ref _rb, _rb.Length * 2);
            }
        }
        int n = await _socket.ReceiveAsync(_rb.AsMemory(_rEnd), SocketFlags.None).ConfigureAwait(false);
        if (n == 0)
        {
            throw new EndOfStreamException("peer closed the connection");
        }
        _rEnd += n;
    }

    private async ValueTask EnsureAsync(int count)
    {
        while (_rEnd - _rStart < count)
        {
            if (_rb.Length - _rStart < count)
            {
                Buffer.BlockCopy(_rb, _rStart, _rb, 0, _rEnd - _rStart);
                _rEnd -= _rStart;
                _rStart = 0;
            }
            await FillAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Receives one whole message. The payload is valid until the next receive. Pings are answered,
    /// pongs skipped; a close frame is returned as opcode 8.
    /// </summary>
    public async ValueTask<(int Opcode, ReadOnlyMemory<byte> Payload)> ReceiveAsync()
    {
        int msgLen = 0;
        int msgOp = 0;
        while (true)
        {
            await EnsureAsync(2).ConfigureAwait(false);
            byte b0 = _rb[_rStart];
            byte b1 = _rb[_rStart + 1];
            bool fin = (b0 & 0x80) != 0;
            int op = b0 & 0x0F;
            bool masked = (b1 & 0x80) != 0;
            long len = b1 & 0x7F;
            int headLen = 2 + (len == 126 ? 2 : len == 127 ? 8 : 0) + (masked ? 4 : 0);
            await EnsureAsync(headLen).ConfigureAwait(false);
            int p = _rStart + 2;
            if (len == 126)
            {
                len = BinaryPrimitives.ReadUInt16BigEndian(_rb.AsSpan(p));
                p += 2;
            }
            else if (len == 127)
            {
                len = (long)BinaryPrimitives.ReadUInt64BigEndian(_rb.AsSpan(p));
                p += 8;
            }
            uint key = 0;
            if (masked)
            {
                key = MemoryMarshal.Read<uint>(_rb.AsSpan(p));
                p += 4;
            }
            _rStart = p;
            if (len > int.MaxValue / 2)
            {
                throw new IOException("frame too large");
            }
            int length = (int)len;
            bool control = op >= 8;
            int at = control ? 0 : msgLen;
            byte[] target;
            if (control)
            {
                target = new byte[length];
            }
            else
            {
                if (_msg.Length < msgLen + length)
                {
                    Array.Resize(ref _msg, Math.Max(msgLen + length, _msg.Length * 2));
                }
                target = _msg;
            }
            int fromBuffer = Math.Min(_rEnd - _rStart, length);
            Buffer.BlockCopy(_rb, _rStart, target, at, fromBuffer);
            _rStart += fromBuffer;
            int got = fromBuffer;
            while (got < length)
            {
                int n = await _socket.ReceiveAsync(target.AsMemory(at + got, length - got), SocketFlags.None).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new EndOfStreamException("peer closed the connection mid-frame");
                }
                got += n;
            }
            if (masked && key != 0)
            {
                Unmask(target.AsSpan(at, length), key);
            }
            if (control)
            {
                if (op == 8)
                {
                    return (8, target);
                }
                if (op == 9)
                {
                    await SendAsync(10, target).ConfigureAwait(false);
                }
                continue;
            }
            msgLen += length;
            if (op != 0)
            {
                msgOp = op;
            }
            if (fin)
            {
                return (msgOp, _msg.AsMemory(0, msgLen));
            }
        }
    }

    /// <summary>XORs the payload with the 4-byte key (payload starts at key phase 0).</summary>
    public static void Unmask(Span<byte> data, uint key)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && data.Length >= Vector<byte>.Count)
        {
            Span<uint> k = stackalloc uint[Vector<uint>.Count];
            k.Fill(key);
            var kv = new Vector<uint>(k).As<uint, byte>();
            var vectors = MemoryMarshal.Cast<byte, Vector<byte>>(data);
            for (int v = 0; v < vectors.Length; v++)
            {
                vectors[v] ^= kv;
            }
            i = vectors.Length * Vector<byte>.Count;
        }
        Span<byte> kb = stackalloc byte[4];
        MemoryMarshal.Write(kb, in key);
        for (; i < data.Length; i++)
        {
            data[i] ^= kb[i & 3];
        }
    }

    /// <summary>Sends one message as one frame (opcode 1 text, 2 binary, 8 close, 10 pong).</summary>
    public async ValueTask SendAsync(int opcode, ReadOnlyMemory<byte> payload)
    {
        int len = payload.Length;
        int headLen = WriteHeader(_sb, opcode, len);
        if (headLen + len <= _sb.Length || len <= 64 * 1024)
        {
            if (_sb.Length < headLen + len)
            {
                Array.Resize(ref _sb, Math.Max(headLen + len, _sb.Length * 2));
                WriteHeader(_sb, opcode, len);
            }
            payload.Span.CopyTo(_sb.AsSpan(headLen));
            await SendAllAsync(_sb.AsMemory(0, headLen + len)).ConfigureAwait(false);
        }
        else
        {
            await SendAllAsync(_sb.AsMemory(0, headLen)).ConfigureAwait(false);
            await SendAllAsync(payload).ConfigureAwait(false);
        }
    }

    private int WriteHeader(byte[] b, int opcode, int len)
    {
        b[0] = (byte)(0x80 | opcode);
        byte maskBit = _isClient ? (byte)0x80 : (byte)0;
        int p;
        if (len < 126)
        {
            b[1] = (byte)(maskBit | len);
            p = 2;
        }
        else if (len <= ushort.MaxValue)
        {
            b[1] = (byte)(maskBit | 126);
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)len);
            p = 4;
        }
        else
        {
            b[1] = (byte)(maskBit | 127);
            BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(2), (ulong)len);
            p = 10;
        }
        if (_isClient)
        {
            // The all-zero masking key: the payload goes out as it is.
            b[p] = b[p + 1] = b[p + 2] = b[p + 3] = 0;
            p += 4;
        }
        return p;
    }

    public async ValueTask SendAllAsync(ReadOnlyMemory<byte> data)
    {
        while (data.Length > 0)
        {
            int n = await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
            data = data[n..];
        }
    }

    /// <summary>Sends a close frame (1000) and waits for the peer's close frame.</summary>
    public async Task CloseAsync()
    {
        await SendAsync(8, new byte[] { 0x03, 0xE8 }).ConfigureAwait(false);
        while (true)
        {
            var (op, _) = await ReceiveAsync().ConfigureAwait(false);
            if (op == 8)
            {
                return;
            }
        }
    }

    public void Dispose() => _socket.Dispose();
}
