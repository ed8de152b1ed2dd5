using System.Net.WebSockets;
using System.Text;
using CdpGateway.Proxy;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

public class FrameHeaderProperties
{
    private readonly record struct Decoded(bool Fin, int Reserved, int Opcode, bool Masked, byte[] Key, long PayloadLength, int Length);

    /// <summary>RFC 6455 §5.2 read bit by bit, with none of the product's shortcuts: null when the header is not all there.</summary>
    private static Decoded? Reference(byte[] data)
    {
        if (data.Length < 2)
        {
            return null;
        }
        bool fin = (data[0] >> 7) == 1;
        int reserved = (data[0] >> 4) & 0b111;
        int opcode = data[0] & 0b1111;
        bool masked = (data[1] >> 7) == 1;
        int code = data[1] & 0b0111_1111;
        int extended = code == 126 ? 2 : code == 127 ? 8 : 0;
        int length = 2 + extended + (masked ? 4 : 0);
        if (data.Length < length)
        {
            return null;
        }
        ulong payload = (ulong)code;
        if (extended > 0)
        {
            payload = 0;
            for (int i = 0; i < extended; i++)
            {
                payload = (payload << 8) | data[2 + i];
            }
        }
        byte[] key = masked ? data[(2 + extended)..(6 + extended)] : [];
        return new Decoded(fin, reserved, opcode, masked, key, unchecked((long)payload), length);
    }

    private static void AgreesWithReference(byte[] data)
    {
        var expected = Reference(data);
        bool read = FrameHeader.TryRead(data, out var header);
        Assert.Equal(expected is not null, read);
        if (expected is not { } e)
        {
            return;
        }
        Assert.InRange(header.Length, 2, Math.Min(FrameHeader.MaxLength, data.Length));
        Assert.Equal(e.Length, header.Length);
        Assert.Equal(e.Fin, header.Fin);
        Assert.Equal(e.Reserved, header.Reserved);
        Assert.Equal(e.Opcode, (int)header.Opcode);
        Assert.Equal(e.Masked, header.Masked);
        Assert.Equal(e.PayloadLength, header.PayloadLength);
        var key = new byte[4];
        if (header.Masked)
        {
            BitConverter.TryWriteBytes(key, header.MaskKey);
            Assert.Equal(e.Key, key);
        }
        else
        {
            Assert.Equal(0, header.MaskKey);
        }
    }

    /// <summary>A header with every field drawn at random, the length in any of its three encodings (minimal or not), cut short or not.</summary>
    private static readonly Gen<byte[]> NearValidHeaders =
        Gen.Select(Gen.Byte, Gen.Bool, Gen.Int[0, 2], Gen.Long, Gen.Int, Gen.Int[0, 20], Gen.Byte.Array[0, 8],
            (first, masked, form, length, key, cut, tail) =>
            {
                var bytes = new List<byte> { first };
                switch (form)
                {
                    case 0:
                        bytes.Add((byte)((masked ? 0x80 : 0) | (int)((ulong)length % 126)));
                        break;
                    case 1:
                        bytes.Add((byte)((masked ? 0x80 : 0) | 126));
                        bytes.Add((byte)(length >> 8));
                        bytes.Add((byte)length);
                        break;
                    default:
                        bytes.Add((byte)((masked ? 0x80 : 0) | 127));
                        for (int shift = 56; shift >= 0; shift -= 8)
                        {
                            bytes.Add((byte)(length >> shift));
                        }
                        break;
                }
                if (masked)
                {
                    bytes.AddRange(BitConverter.GetBytes(key));
                }
                bytes.AddRange(tail);
                return bytes.Take(Math.Max(0, bytes.Count - (cut < 5 ? cut : 0))).ToArray();
            });

    [Fact]
    public void AnyBytesReadAsTheReferenceDecodingReadsThem() =>
        Gen.Byte.Array[0, 20].Sample(AgreesWithReference, iter: FuzzRuns.Iterations);

    [Fact]
    public void NearValidHeadersReadAsTheReferenceDecodingReadsThem() =>
        NearValidHeaders.Sample(AgreesWithReference, iter: FuzzRuns.Iterations);

    [Fact]
    public void WrittenHeadersReadBackAsWritten() =>
        Gen.Select(Gen.Long[0, long.MaxValue], Gen.Bool, Gen.Int[0, 5]).Sample((length, fin, op) =>
        {
            var opcode = new[] { FrameOpcode.Continuation, FrameOpcode.Text, FrameOpcode.Binary, FrameOpcode.Close, FrameOpcode.Ping, FrameOpcode.Pong }[op];
            long payload = length % 3 == 0 ? length % 200 : length % 3 == 1 ? length % 70_000 : length;
            var buffer = new byte[FrameHeader.MaxLength];
            int written = FrameHeader.WriteUnmasked(buffer, opcode, fin, payload);
            Assert.True(FrameHeader.TryRead(buffer.AsSpan(0, written), out var header));
            Assert.Equal((written, payload, fin, opcode, false), (header.Length, header.PayloadLength, header.Fin, header.Opcode, header.Masked));
            AgreesWithReference(buffer[..written]);
        }, iter: FuzzRuns.Iterations);
}

public class CloseFrameProperties
{
    private static bool ValidCode(int code) => code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    private static byte[] Frame(bool masked, int key, byte[] payload, int declared)
    {
        var bytes = new List<byte> { 0x88 };
        if (declared < 126)
        {
            bytes.Add((byte)((masked ? 0x80 : 0) | declared));
        }
        else
        {
            bytes.Add((byte)((masked ? 0x80 : 0) | 126));
            bytes.Add((byte)(declared >> 8));
            bytes.Add((byte)declared);
        }
        var keyBytes = BitConverter.GetBytes(key);
        if (masked)
        {
            bytes.AddRange(keyBytes);
        }
        for (int i = 0; i < payload.Length; i++)
        {
            bytes.Add(masked ? (byte)(payload[i] ^ keyBytes[i % 4]) : payload[i]);
        }
        return [.. bytes];
    }

    /// <summary>Status codes near the valid ranges' edges, reasons that are text or arbitrary bytes, masked or not.</summary>
    private static readonly Gen<(byte[] Payload, bool Masked, int Key)> ClosePayloads =
        Gen.Select(Gen.OneOf(Gen.Int[0, 65535], Gen.Int[995, 1016], Gen.Int[2995, 3005], Gen.Int[4995, 5005]), Gen.Int[0, 2],
            Gen.Byte.Array[0, 123], Gen.String[0, 40], Gen.Bool, Gen.Int,
            (code, shape, bytes, text, masked, key) =>
            {
                byte[] payload = shape switch
                {
                    0 => bytes.Length < 2 ? bytes : [(byte)(code >> 8), (byte)code, .. bytes[2..]],
                    1 => [(byte)(code >> 8), (byte)code, .. Encoding.UTF8.GetBytes(text).Take(123)],
                    _ => [(byte)(code >> 8), (byte)code],
                };
                return (payload, masked, key);
            });

    [Fact]
    public void ClosePayloadsAreJudgedAsTheRfcJudgesThem() =>
        ClosePayloads.Sample(sample =>
        {
            var frame = Frame(sample.Masked, sample.Key, sample.Payload, sample.Payload.Length);
            bool read = CloseFrame.TryRead(frame, out var status, out var reason);
            var payload = sample.Payload;
            bool expected = payload.Length == 0 ||
                (payload.Length >= 2 && ValidCode((payload[0] << 8) | payload[1]) && System.Text.Unicode.Utf8.IsValid(payload.AsSpan(2)));
            Assert.Equal(expected, read);
            if (read && payload.Length >= 2)
            {
                Assert.Equal((payload[0] << 8) | payload[1], (int)status);
                Assert.Equal(Encoding.UTF8.GetString(payload.AsSpan(2)), reason);
            }
            else if (read)
            {
                Assert.Equal((WebSocketCloseStatus.NormalClosure, ""), (status, reason));
            }
        }, iter: FuzzRuns.Iterations);

    [Fact]
    public void CloseFramesCutShortAreRefused() =>
        ClosePayloads.Sample(sample =>
        {
            var frame = Frame(sample.Masked, sample.Key, sample.Payload, sample.Payload.Length + 1);
            Assert.False(CloseFrame.TryRead(frame, out _, out _));
        }, iter: FuzzRuns.FewIterations);

    [Fact]
    public void AnyBytesAreReadWithoutThrowing() =>
        Gen.Byte.Array[0, 160].Sample(bytes => { CloseFrame.TryRead(bytes, out _, out _); }, iter: FuzzRuns.Iterations);

    [Fact]
    public void WrittenCloseFramesReadBackWithTheirReasonCutToWholeCharacters() =>
        Gen.Select(Gen.OneOf(Gen.Int[1000, 1003], Gen.Int[3000, 4999]), Gen.String[0, 200]).Sample((code, text) =>
        {
            var buffer = new byte[CloseFrame.MaxFrameBytes];
            int written = CloseFrame.Write(buffer, (WebSocketCloseStatus)code, text);
            Assert.True(CloseFrame.TryRead(buffer.AsSpan(0, written), out var status, out var reason));
            Assert.Equal(code, (int)status);
            Assert.StartsWith(reason, text, StringComparison.Ordinal);
        }, iter: FuzzRuns.FewIterations);

    [Fact]
    public void ACloseHeaderWithANegativeLengthIsRefusedNotThrown()
    {
        // A 64-bit length with its top bit set reads as negative; the payload slice must not be taken from it.
        byte[] frame = [0x88, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFB, 0, 0, 0, 0, 0, 0, 0, 0];
        Assert.False(CloseFrame.TryRead(frame, out _, out _));
    }
}
