using System.Buffers.Binary;
using System.Text;
using CdpGateway.Proxy;

namespace CdpGateway.Tests.Support;

/// <summary>Builds WebSocket frames byte by byte for relay tests, independently of the code under test.</summary>
public static class Frames
{
    public static readonly byte[] Key = [0x37, 0xFA, 0x21, 0x3D];

    /// <summary>A frame; masked with <see cref="Key"/> (or <paramref name="key"/>) when <paramref name="masked"/>.</summary>
    public static byte[] Build(FrameOpcode opcode, byte[] payload, bool masked, bool fin = true, byte rsv = 0, byte[]? key = null)
    {
        key ??= Key;
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | (rsv << 4) | (byte)opcode) };
        var maskBit = masked ? 0x80 : 0;
        if (payload.Length < 126)
        {
            header.Add((byte)(maskBit | payload.Length));
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            header.Add((byte)(maskBit | 126));
            header.Add((byte)(payload.Length >> 8));
            header.Add((byte)payload.Length);
        }
        else
        {
            header.Add((byte)(maskBit | 127));
            var length = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(length, payload.Length);
            header.AddRange(length);
        }
        if (masked)
        {
            header.AddRange(key);
        }
        var body = payload.ToArray();
        if (masked)
        {
            for (var i = 0; i < body.Length; i++)
            {
                body[i] ^= key[i % 4];
            }
        }
        return [.. header, .. body];
    }

    public static byte[] Text(string text, bool masked, bool fin = true) => Build(FrameOpcode.Text, Encoding.UTF8.GetBytes(text), masked, fin);

    public static byte[] Close(int code, string reason, bool masked)
    {
        var reasonBytes = Encoding.UTF8.GetBytes(reason);
        var payload = new byte[2 + reasonBytes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        reasonBytes.CopyTo(payload, 2);
        return Build(FrameOpcode.Close, payload, masked);
    }

    /// <summary>Just a header announcing <paramref name="length"/> payload bytes (the payload is not there).</summary>
    public static byte[] HeaderOnly(FrameOpcode opcode, long length, bool masked)
    {
        var full = Build(opcode, [], masked);
        var bytes = new List<byte> { full[0] };
        var maskBit = (byte)(masked ? 0x80 : 0);
        if (length < 126)
        {
            bytes.Add((byte)(maskBit | length));
        }
        else if (length <= ushort.MaxValue)
        {
            bytes.AddRange([(byte)(maskBit | 126), (byte)(length >> 8), (byte)length]);
        }
        else
        {
            bytes.Add((byte)(maskBit | 127));
            var field = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(field, length);
            bytes.AddRange(field);
        }
        if (masked)
        {
            bytes.AddRange(Key);
        }
        return [.. bytes];
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
