using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace CdpGateway.Proxy;

/// <summary>
/// The <c>Sec-WebSocket-Accept</c> value of a key: base64(SHA-1(key + the RFC 6455 GUID)), 28 ASCII bytes. Every
/// connection needs two (the client's answer and the check of the browser's). The runtime's SHA-1 does the hashing;
/// a valid key (24 base64 characters) and the GUID make 60 bytes, hashed and encoded on the stack without allocating.
/// </summary>
internal static class WebSocketAccept
{
    public const int Length = 28;

    private static ReadOnlySpan<byte> Guid => "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8;

    private const int GuidBytes = 36;

    /// <summary>The longest key hashed from the stack; no valid key comes near it (16 bytes in base64 are 24).</summary>
    private const int StackKeyBytes = 220;

    /// <summary>Writes the accept value of a key as a request carried it (surrounding white space is not part of it).</summary>
    public static Span<byte> Write(string key, Span<byte> destination)
    {
        var trimmed = key.AsSpan().Trim();
        Span<byte> ascii = trimmed.Length <= StackKeyBytes ? stackalloc byte[StackKeyBytes] : new byte[trimmed.Length];
        int length = Encoding.ASCII.GetBytes(trimmed, ascii);
        return Write(ascii[..length], destination);
    }

    /// <summary>Writes the accept value of <paramref name="key"/> (the key's ASCII bytes as sent) and returns its 28 bytes.</summary>
    public static Span<byte> Write(scoped ReadOnlySpan<byte> key, Span<byte> destination)
    {
        int inputLength = key.Length + GuidBytes;
        Span<byte> input = key.Length <= StackKeyBytes ? stackalloc byte[StackKeyBytes + GuidBytes] : new byte[inputLength];
        input = input[..inputLength];
        key.CopyTo(input);
        Guid.CopyTo(input[key.Length..]);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(input, hash);
        var status = Base64.EncodeToUtf8(hash, destination, out _, out int written);
        if (status != OperationStatus.Done)
        {
            throw new ArgumentException($"the accept value needs {Length} bytes", nameof(destination));
        }
        return destination[..written];
    }
}
