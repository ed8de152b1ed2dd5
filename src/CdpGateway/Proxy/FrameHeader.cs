using System.Buffers.Binary;

namespace CdpGateway.Proxy;

/// <summary>RFC 6455 opcodes; anything else is a protocol error (no extensions are negotiated).</summary>
public enum FrameOpcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>
/// One WebSocket frame header as it stands on the wire: 2 to 14 bytes. Parsed, never rewritten: the
/// relay forwards the bytes it came from.
/// </summary>
public readonly record struct FrameHeader(bool Fin, byte Reserved, FrameOpcode Opcode, bool Masked, int MaskKey, long PayloadLength, int Length)
{
    public const int MaxLength = 14;

    /// <summary>The largest control frame payload (RFC 6455 §5.5).</summary>
    public const int MaxControlPayload = 125;

    public bool IsControl => ((byte)Opcode & 0x8) != 0;

    public bool IsData => Opcode is FrameOpcode.Text or FrameOpcode.Binary or FrameOpcode.Continuation;

    /// <summary>
    /// Reads a header from the start of <paramref name="data"/>; false when it is not all there yet.
    /// A 64-bit length with its top bit set reads as negative, which the caller rejects.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out FrameHeader header)
    {
        if (data.Length < 2)
        {
            header = default;
            return false;
        }
        var first = data[0];
        var second = data[1];
        var masked = (second & 0x80) != 0;
        long length = second & 0x7F;
        var size = 2;
        if (length == 126)
        {
            size = 4;
        }
        else if (length == 127)
        {
            size = 10;
        }
        var total = size + (masked ? 4 : 0);
        if (data.Length < total)
        {
            header = default;
            return false;
        }
        if (size == 4)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        }
        else if (size == 10)
        {
            length = BinaryPrimitives.ReadInt64BigEndian(data[2..]);
        }
        // Kept in memory order, so byte i of the key is the i-th byte of the int on any endianness.
        var key = masked ? BitConverter.ToInt32(data[size..]) : 0;
        header = new FrameHeader((first & 0x80) != 0, (byte)((first >> 4) & 0x7), (FrameOpcode)(first & 0xF), masked, key, length, total);
        return true;
    }

    /// <summary>Writes an unmasked (server-side) header for <paramref name="payloadLength"/> bytes; returns its size.</summary>
    public static int WriteUnmasked(Span<byte> destination, FrameOpcode opcode, bool fin, long payloadLength)
    {
        destination[0] = (byte)((fin ? 0x80 : 0) | (byte)opcode);
        if (payloadLength < 126)
        {
            destination[1] = (byte)payloadLength;
            return 2;
        }
        if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
            return 4;
        }
        destination[1] = 127;
        BinaryPrimitives.WriteInt64BigEndian(destination[2..], payloadLength);
        return 10;
    }
}
