using System.Buffers.Binary;
using System.Buffers.Text;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace CdpGateway.Proxy;

/// <summary>
/// The <c>Sec-WebSocket-Accept</c> value of a key: base64(SHA-1(key + the RFC 6455 GUID)), 28 ASCII bytes. Every
/// connection needs two (the client's answer and the check of the browser's), and on Linux the runtime's SHA-1 is a call
/// into OpenSSL 3 that looks the digest up again each time, a visible cost in connection churn, where the two 64-byte
/// blocks here cost next to nothing (see bench/README.md, "Where the gateway stands (last run) and what the profile
/// says"). Checked against the runtime's SHA-1 by the tests.
/// </summary>
internal static class WebSocketAccept
{
    public const int Length = 28;

    private static ReadOnlySpan<byte> Guid => "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8;

    /// <summary>Writes the accept value of a key as a request carried it (surrounding white space is not part of it).</summary>
    public static Span<byte> Write(string key, Span<byte> destination)
    {
        var trimmed = key.AsSpan().Trim();
        Span<byte> ascii = trimmed.Length <= 64 ? stackalloc byte[64] : new byte[trimmed.Length];
        int length = Encoding.ASCII.GetBytes(trimmed, ascii);
        return Write(ascii[..length], destination);
    }

    /// <summary>Writes the accept value of <paramref name="key"/> (the key's ASCII bytes as sent) and returns its 28 bytes.</summary>
    public static Span<byte> Write(scoped ReadOnlySpan<byte> key, Span<byte> destination)
    {
        Span<byte> hash = stackalloc byte[Sha1Bytes];
        if (key.Length + Guid.Length <= 256)
        {
            Span<byte> input = stackalloc byte[key.Length + Guid.Length];
            key.CopyTo(input);
            Guid.CopyTo(input[key.Length..]);
            Sha1(input, hash);
        }
        else
        {
            // No key this long is ever valid (16 bytes in base64 are 24); the answer is computed all the same.
            var input = new byte[key.Length + Guid.Length];
            key.CopyTo(input);
            Guid.CopyTo(input.AsSpan(key.Length));
            SHA1.HashData(input, hash);
        }
        Base64.EncodeToUtf8(hash, destination, out _, out int written);
        return destination[..written];
    }

    internal const int Sha1Bytes = 20;

    /// <summary>SHA-1 (FIPS 180-4) of a short message, entirely on the stack.</summary>
    internal static void Sha1(ReadOnlySpan<byte> message, Span<byte> hash)
    {
        uint h0 = 0x67452301, h1 = 0xEFCDAB89, h2 = 0x98BADCFE, h3 = 0x10325476, h4 = 0xC3D2E1F0;
        Span<uint> w = stackalloc uint[80];
        Span<byte> tail = stackalloc byte[128];
        int whole = message.Length & ~63;
        for (int offset = 0; offset < whole; offset += 64)
        {
            Block(message.Slice(offset, 64), w, ref h0, ref h1, ref h2, ref h3, ref h4);
        }
        // The rest, a 1 bit, zeros, and the length in bits: one block or two.
        var rest = message[whole..];
        int tailLength = rest.Length + 9 <= 64 ? 64 : 128;
        tail[..tailLength].Clear();
        rest.CopyTo(tail);
        tail[rest.Length] = 0x80;
        BinaryPrimitives.WriteUInt64BigEndian(tail.Slice(tailLength - 8, 8), (ulong)message.Length * 8);
        for (int offset = 0; offset < tailLength; offset += 64)
        {
            Block(tail.Slice(offset, 64), w, ref h0, ref h1, ref h2, ref h3, ref h4);
        }
        BinaryPrimitives.WriteUInt32BigEndian(hash, h0);
        BinaryPrimitives.WriteUInt32BigEndian(hash[4..], h1);
        BinaryPrimitives.WriteUInt32BigEndian(hash[8..], h2);
        BinaryPrimitives.WriteUInt32BigEndian(hash[12..], h3);
        BinaryPrimitives.WriteUInt32BigEndian(hash[16..], h4);
    }

    private static void Block(ReadOnlySpan<byte> block, Span<uint> w, ref uint h0, ref uint h1, ref uint h2, ref uint h3, ref uint h4)
    {
        for (int i = 0; i < 16; i++)
        {
            w[i] = BinaryPrimitives.ReadUInt32BigEndian(block.Slice(i * 4, 4));
        }
        for (int i = 16; i < 80; i++)
        {
            w[i] = BitOperations.RotateLeft(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        }
        uint a = h0, b = h1, c = h2, d = h3, e = h4;
        for (int i = 0; i < 80; i++)
        {
            uint f, k;
            if (i < 20)
            {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            }
            else if (i < 40)
            {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            }
            else if (i < 60)
            {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            }
            else
            {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            uint next = BitOperations.RotateLeft(a, 5) + f + e + k + w[i];
            e = d;
            d = c;
            c = BitOperations.RotateLeft(b, 30);
            b = a;
            a = next;
        }
        h0 += a;
        h1 += b;
        h2 += c;
        h3 += d;
        h4 += e;
    }
}
