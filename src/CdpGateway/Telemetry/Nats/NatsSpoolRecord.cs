using System.Buffers.Binary;
using System.Text;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// One event ready for NATS: its message id, subject and envelope bytes. On disk it is
/// <c>u32 body length | u32 CRC-32 of the body | body</c>, the body being
/// <c>u16 id length | id | u16 subject length | subject | envelope</c> (little endian), so a reader can tell a whole
/// record from a torn or garbled one.
/// </summary>
public sealed record NatsSpoolRecord(string MsgId, string Subject, ReadOnlyMemory<byte> Payload)
{
    /// <summary>Length and checksum in front of every body.</summary>
    public const int HeaderBytes = 8;

    /// <summary>No envelope comes near this; a length beyond it can only be garbage.</summary>
    public const int MaxBodyBytes = 256 * 1024 * 1024;

    public int BodyBytes => 2 + Encoding.UTF8.GetByteCount(MsgId) + 2 + Encoding.UTF8.GetByteCount(Subject) + Payload.Length;

    /// <summary>Bytes the record takes on disk.</summary>
    public int DiskBytes => HeaderBytes + BodyBytes;

    /// <summary>The whole record as written to a segment.</summary>
    public byte[] Encode()
    {
        var bytes = new byte[DiskBytes];
        Span<byte> body = bytes.AsSpan(HeaderBytes);
        int at = 0;
        at += WriteString(body[at..], MsgId);
        at += WriteString(body[at..], Subject);
        Payload.Span.CopyTo(body[at..]);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), System.IO.Hashing.Crc32.HashToUInt32(body));
        return bytes;
    }

    private static int WriteString(Span<byte> into, string value)
    {
        int length = Encoding.UTF8.GetBytes(value, into[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(into, (ushort)length);
        return 2 + length;
    }

    /// <summary>Reads a body whose checksum already matched; null when its inner lengths do not add up.</summary>
    public static NatsSpoolRecord? DecodeBody(ReadOnlySpan<byte> body)
    {
        if (!TryReadString(ref body, out string? msgId) || !TryReadString(ref body, out string? subject))
        {
            return null;
        }
        return new NatsSpoolRecord(msgId, subject, body.ToArray());
    }

    private static bool TryReadString(ref ReadOnlySpan<byte> body, out string value)
    {
        value = "";
        if (body.Length < 2)
        {
            return false;
        }
        int length = BinaryPrimitives.ReadUInt16LittleEndian(body);
        if (body.Length < 2 + length)
        {
            return false;
        }
        value = Encoding.UTF8.GetString(body.Slice(2, length));
        body = body[(2 + length)..];
        return true;
    }
}
