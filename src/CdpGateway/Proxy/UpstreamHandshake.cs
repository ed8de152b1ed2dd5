using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;

namespace CdpGateway.Proxy;

/// <summary>
/// The client half of the browser leg's RFC 6455 handshake: the upgrade request (no compression offered, no
/// subprotocol, no Origin) and the check of the 101 answer. What does not change between dials of one URL (the parsed
/// URL, its endpoint, the request up to the key) is made once and kept, so a dial builds its request by copying bytes and
/// reads the answer without splitting it into strings.
/// </summary>
internal sealed class UpstreamHandshake
{
    private const int MaxAnswerBytes = 16 * 1024;
    private const int KeyLength = 24;
    private static ReadOnlySpan<byte> RequestEnd => "\r\nSec-WebSocket-Version: 13\r\n\r\n"u8;

    private readonly byte[] _requestStart;

    private UpstreamHandshake(string url, Uri uri)
    {
        Url = url;
        // An address (Chromium's URLs carry one) gets a socket of its own family; a name, a dual-mode one.
        EndPoint = IPAddress.TryParse(uri.IdnHost, out var address) ? new IPEndPoint(address, uri.Port) : new DnsEndPoint(uri.IdnHost, uri.Port);
        _requestStart = Encoding.ASCII.GetBytes("GET " + uri.PathAndQuery + " HTTP/1.1\r\nHost: " + uri.Authority +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    }

    public string Url { get; }

    /// <summary>An <see cref="IPEndPoint"/> for an address, a <see cref="DnsEndPoint"/> for a name.</summary>
    public EndPoint EndPoint { get; }

    /// <summary>
    /// The handshake for a ws:// URL: <paramref name="last"/> when it is that URL's (the browser's URL changes only when
    /// Chromium restarts), else a new one. A WebSocketException names any other scheme.
    /// </summary>
    public static UpstreamHandshake For(string url, UpstreamHandshake? last = null)
    {
        if (last is not null && last.Url == url)
        {
            return last;
        }
        var uri = new Uri(url);
        if (uri.Scheme != "ws")
        {
            throw new WebSocketException(WebSocketError.NotAWebSocket, $"unsupported upstream scheme '{uri.Scheme}' (Chromium's DevTools URLs are ws://)");
        }
        return new UpstreamHandshake(url, uri);
    }

    /// <summary>Sends the upgrade request and checks the 101 answer; returns the bytes read past its end.</summary>
    public async Task<byte[]> UpgradeAsync(Stream stream, CancellationToken cancellationToken)
    {
        // RFC 6455 §4.1 asks for a random nonce so that caches do not replay an answer; it is not a secret.
        var nonce = Nonce.Random();
        // A target's path comes from the client and may be long: the buffer holds the whole request.
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(4096, _requestStart.Length + KeyLength + RequestEnd.Length));
        try
        {
            int requestLength = WriteRequest(buffer, nonce);
            await stream.WriteAsync(buffer.AsMemory(0, requestLength), cancellationToken).ConfigureAwait(false);
            var length = 0;
            int headEnd;
            while ((headEnd = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (length == buffer.Length)
                {
                    if (length >= MaxAnswerBytes)
                    {
                        throw new WebSocketException(WebSocketError.HeaderError, "the upstream's upgrade answer is too long");
                    }
                    var bigger = ArrayPool<byte>.Shared.Rent(length * 2);
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "the upstream closed the connection during the WebSocket upgrade");
                }
                length += read;
            }
            CheckAnswer(buffer.AsSpan(0, headEnd), nonce);
            return buffer.AsSpan(headEnd + 4, length - headEnd - 4).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The 16 random bytes of a key (a value, so it lives across the awaits of a dial).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct Nonce(long First, long Second)
    {
        /// <summary>16 bytes from <see cref="System.Random.Shared"/>, every bit of them random.</summary>
        public static Nonce Random()
        {
            Nonce nonce = default;
            System.Random.Shared.NextBytes(MemoryMarshal.AsBytes(new Span<Nonce>(ref nonce)));
            return nonce;
        }

        /// <summary>The key as it is sent: the nonce in base64, <see cref="KeyLength"/> ASCII characters.</summary>
        public int WriteKey(Span<byte> destination)
        {
            var self = this;
            Base64.EncodeToUtf8(MemoryMarshal.AsBytes(new ReadOnlySpan<Nonce>(in self)), destination, out _, out int written);
            return written;
        }
    }

    private int WriteRequest(Span<byte> destination, Nonce nonce)
    {
        _requestStart.CopyTo(destination);
        int length = _requestStart.Length;
        length += nonce.WriteKey(destination[length..]);
        RequestEnd.CopyTo(destination[length..]);
        return length + RequestEnd.Length;
    }

    /// <summary>Throws a WebSocketException unless <paramref name="head"/> (without its blank line) is a 101 that fits the key.</summary>
    internal static void CheckAnswer(ReadOnlySpan<byte> head, Nonce nonce)
    {
        int lineEnd = head.IndexOf("\r\n"u8);
        var statusLine = lineEnd < 0 ? head : head[..lineEnd];
        var rest = lineEnd < 0 ? [] : head[(lineEnd + 2)..];
        int firstSpace = statusLine.IndexOf((byte)' ');
        var code = firstSpace < 0 ? [] : statusLine[(firstSpace + 1)..];
        if (code.IndexOf((byte)' ') is >= 0 and var codeEnd)
        {
            code = code[..codeEnd];
        }
        if (firstSpace < 0 || !statusLine.StartsWith("HTTP/1."u8) || !code.SequenceEqual("101"u8))
        {
            throw new WebSocketException(WebSocketError.NotAWebSocket,
                $"The server returned status code '{Encoding.Latin1.GetString(firstSpace < 0 ? statusLine : code)}' when status code '101' was expected.");
        }
        ReadOnlySpan<byte> accept = default;
        bool sawAccept = false;
        while (!rest.IsEmpty)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            var line = lineEnd < 0 ? rest : rest[..lineEnd];
            rest = lineEnd < 0 ? [] : rest[(lineEnd + 2)..];
            int colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                continue;
            }
            var name = line[..colon].Trim(" \t"u8);
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(name, "Sec-WebSocket-Accept"u8))
            {
                accept = value;
                sawAccept = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Sec-WebSocket-Extensions"u8) && !value.IsEmpty)
            {
                // We offered none; an extension we did not ask for would change the framing.
                throw new WebSocketException(WebSocketError.HeaderError,
                    $"the upstream answered with an extension the gateway did not offer: {Encoding.Latin1.GetString(value)}");
            }
        }
        if (!sawAccept || !accept.SequenceEqual(ExpectedAccept(nonce, stackalloc byte[WebSocketAccept.Length])))
        {
            throw new WebSocketException(WebSocketError.HeaderError, "the upstream's Sec-WebSocket-Accept does not match the key sent");
        }
    }

    /// <summary>The accept value the browser must answer with, RFC 6455 §4.2.2.</summary>
    private static ReadOnlySpan<byte> ExpectedAccept(Nonce nonce, Span<byte> destination)
    {
        Span<byte> key = stackalloc byte[KeyLength];
        return WebSocketAccept.Write(key[..nonce.WriteKey(key)], destination);
    }
}
