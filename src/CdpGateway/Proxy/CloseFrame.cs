using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;

namespace CdpGateway.Proxy;

/// <summary>The close frame's payload: a status code and a UTF-8 reason (RFC 6455 §5.5.1, §7.4).</summary>
public static class CloseFrame
{
    /// <summary>A header, the code and the longest reason that fits a control frame.</summary>
    public const int MaxFrameBytes = 4 + FrameHeader.MaxControlPayload;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Reads the status and reason of a whole close frame (header included), unmasking its payload in
    /// place. An empty payload reads as a normal closure, as the runtime's WebSocket reports it; false
    /// for a payload the RFC forbids (one byte, a reserved code, a reason that is not UTF-8).
    /// </summary>
    public static bool TryRead(Span<byte> frame, out WebSocketCloseStatus status, out string description)
    {
        status = WebSocketCloseStatus.NormalClosure;
        description = "";
        // A 64-bit length with its top bit set reads as negative: no slice may be taken from it.
        if (!FrameHeader.TryRead(frame, out var header) || header.PayloadLength < 0 || frame.Length - header.Length < header.PayloadLength)
        {
            return false;
        }
        var payload = frame.Slice(header.Length, (int)header.PayloadLength);
        if (header.Masked)
        {
            PayloadMask.Apply(payload, header.MaskKey, 0);
        }
        if (payload.Length == 0)
        {
            return true;
        }
        if (payload.Length == 1)
        {
            return false;
        }
        status = (WebSocketCloseStatus)BinaryPrimitives.ReadUInt16BigEndian(payload);
        if (!IsValid((int)status))
        {
            return false;
        }
        try
        {
            description = StrictUtf8.GetString(payload[2..]);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        return true;
    }

    /// <summary>Writes an unmasked (server-side) close frame; returns its length. The reason is cut to what fits.</summary>
    public static int Write(Span<byte> destination, WebSocketCloseStatus status, string description)
    {
        Span<byte> payload = stackalloc byte[FrameHeader.MaxControlPayload];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)status);
        var reasonBytes = Utf8Prefix(description, payload[2..]);
        var headerLength = FrameHeader.WriteUnmasked(destination, FrameOpcode.Close, fin: true, 2 + reasonBytes);
        payload[..(2 + reasonBytes)].CopyTo(destination[headerLength..]);
        return headerLength + 2 + reasonBytes;
    }

    private static int Utf8Prefix(string text, Span<byte> destination)
    {
        if (Encoding.UTF8.TryGetBytes(text, destination, out var written))
        {
            return written;
        }
        // Too long for a control frame: keep whole characters only.
        var length = text.Length;
        while (length > 0 && Encoding.UTF8.GetByteCount(text.AsSpan(0, length)) > destination.Length)
        {
            length--;
            if (length > 0 && char.IsHighSurrogate(text[length - 1]))
            {
                length--;
            }
        }
        return Encoding.UTF8.GetBytes(text.AsSpan(0, length), destination);
    }

    private static bool IsValid(int code) =>
        code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);
}
