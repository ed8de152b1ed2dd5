using System.Text;

namespace CdpGateway.Proxy.Transport;

/// <summary>What reading a request's head found.</summary>
internal enum UpgradeRequestHeadStatus
{
    /// <summary>No blank line yet: more bytes are needed.</summary>
    Incomplete,

    /// <summary>A plain WebSocket upgrade to a <c>/devtools/</c> path, which the gateway answers itself.</summary>
    Upgrade,

    /// <summary>Anything else, or anything unusual: Kestrel reads it and answers as it always does.</summary>
    ForKestrel,
}

/// <summary>
/// The parts of a client's WebSocket upgrade request that the CDP port's own upgrade path needs, read straight from the
/// request's bytes. It qualifies only what Kestrel and the WebSocket middleware would certainly take as a WebSocket
/// request with nothing to decode: <c>GET</c> of an origin-form <c>/devtools/</c> path without escapes or dot segments,
/// <c>HTTP/1.1</c>, one <c>Host</c>, <c>Upgrade: websocket</c>, <c>Connection</c> naming <c>upgrade</c>,
/// <c>Sec-WebSocket-Version: 13</c>, a key of 16 base64 bytes, no body, printable ASCII only, each of these headers
/// once, and once each of the headers the access decision reads. Everything else (discovery, bad requests, odd but valid
/// ones) goes to Kestrel, so the answers to those stay exactly Kestrel's.
/// </summary>
internal readonly record struct UpgradeRequestHead(int Length, string Path, string? Query, string Key, string Host, string? ForwardedHost,
    string? Origin, string? SecFetchSite, string? Authorization, string? TraceParent = null, string? TraceState = null)
{
    /// <summary>A longer head is Kestrel's (its own limits apply there).</summary>
    public const int MaxBytes = 8 * 1024;

    private const int MaxHeaders = 100;

    /// <summary>What <see cref="CdpGateway.Hosting.AccessPolicy"/> reads of this upgrade.</summary>
    public CdpGateway.Hosting.AccessRequest Access => new()
    {
        Port = CdpGateway.Hosting.AccessPort.Cdp,
        Method = "GET",
        Host = Host,
        ForwardedHost = ForwardedHost,
        Origin = Origin,
        SecFetchSite = SecFetchSite,
        Authorization = Authorization,
        Query = Query,
    };

    /// <param name="knownHost">A Host value seen before: when the request names the same, that string is used again
    /// instead of a new one (nearly every client of one gateway names it alike).</param>
    public static UpgradeRequestHeadStatus TryRead(ReadOnlySpan<byte> bytes, out UpgradeRequestHead head, string? knownHost = null)
    {
        head = default;
        int end = bytes.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return bytes.Length >= MaxBytes ? UpgradeRequestHeadStatus.ForKestrel : UpgradeRequestHeadStatus.Incomplete;
        }
        if (end + 4 > MaxBytes)
        {
            return UpgradeRequestHeadStatus.ForKestrel;
        }
        return Read(bytes[..(end + 2)], end + 4, knownHost, out head) ? UpgradeRequestHeadStatus.Upgrade : UpgradeRequestHeadStatus.ForKestrel;
    }

    /// <param name="lines">The request line and header lines, each ending in CRLF.</param>
    private static bool Read(ReadOnlySpan<byte> lines, int length, string? knownHost, out UpgradeRequestHead head)
    {
        head = default;
        int lineEnd = lines.IndexOf("\r\n"u8);
        if (!ReadRequestLine(lines[..lineEnd], out var path, out var query))
        {
            return false;
        }
        lines = lines[(lineEnd + 2)..];
        string? key = null, host = null, forwardedHost = null, origin = null, secFetchSite = null, authorization = null, traceParent = null, traceState = null;
        bool upgrade = false, connection = false, version = false;
        for (int count = 0; !lines.IsEmpty; count++)
        {
            lineEnd = lines.IndexOf("\r\n"u8);
            var line = lines[..lineEnd];
            lines = lines[(lineEnd + 2)..];
            int colon = line.IndexOf((byte)':');
            if (count >= MaxHeaders || colon <= 0 || !IsToken(line[..colon]) || !IsPrintable(line[(colon + 1)..]))
            {
                // Includes a folded line (it starts with white space, which is no token) and bare CR or LF.
                return false;
            }
            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            bool repeated;
            if (Is(name, "host"))
            {
                repeated = host is not null;
                if (value.IsEmpty || value.IndexOfAnyExcept(HostBytes) >= 0)
                {
                    return false;
                }
                host = knownHost is not null && Ascii.Equals(value, knownHost) ? knownHost : Encoding.ASCII.GetString(value);
            }
            else if (Is(name, "upgrade"))
            {
                repeated = upgrade;
                upgrade = Ascii.EqualsIgnoreCase(value, "websocket"u8);
            }
            else if (Is(name, "connection"))
            {
                repeated = connection;
                connection = HasToken(value, "upgrade"u8);
            }
            else if (Is(name, "sec-websocket-version"))
            {
                repeated = version;
                version = value.SequenceEqual("13"u8);
            }
            else if (Is(name, "sec-websocket-key"))
            {
                repeated = key is not null;
                key = IsKey(value) ? Encoding.ASCII.GetString(value) : null;
                if (key is null)
                {
                    return false;
                }
            }
            else if (Is(name, "origin"))
            {
                repeated = origin is not null;
                origin = Encoding.ASCII.GetString(value);
            }
            else if (Is(name, "x-forwarded-host"))
            {
                repeated = forwardedHost is not null;
                forwardedHost = Encoding.ASCII.GetString(value);
            }
            else if (Is(name, "sec-fetch-site"))
            {
                repeated = secFetchSite is not null;
                secFetchSite = Encoding.ASCII.GetString(value);
            }
            else if (Is(name, "authorization"))
            {
                repeated = authorization is not null;
                authorization = Encoding.ASCII.GetString(value);
            }
            else if (Is(name, "traceparent"))
            {
                // The client's W3C trace context: the connection's span becomes a child of its trace.
                repeated = traceParent is not null;
                traceParent = Encoding.ASCII.GetString(value);
            }
            else if (Is(name, "tracestate"))
            {
                repeated = traceState is not null;
                traceState = Encoding.ASCII.GetString(value);
            }
            else
            {
                // A request that frames a body (even an empty one) is Kestrel's to judge.
                repeated = Is(name, "content-length") || Is(name, "transfer-encoding");
            }
            if (repeated)
            {
                return false;
            }
        }
        if (host is null || !upgrade || !connection || !version || key is null)
        {
            return false;
        }
        head = new UpgradeRequestHead(length, path, query, key, host, forwardedHost, origin, secFetchSite, authorization, traceParent, traceState);
        return true;
    }

    private static bool ReadRequestLine(ReadOnlySpan<byte> line, out string path, out string? query)
    {
        path = "";
        query = null;
        if (!line.StartsWith("GET /devtools/"u8) || !line.EndsWith(" HTTP/1.1"u8))
        {
            return false;
        }
        var target = line["GET ".Length..^" HTTP/1.1".Length];
        int question = target.IndexOf((byte)'?');
        var rawPath = question < 0 ? target : target[..question];
        // Escapes are decoded by Kestrel, and dot segments removed: such paths are its to read.
        if (rawPath.IndexOfAnyExcept(PathBytes) >= 0 || rawPath.IndexOf("/."u8) >= 0)
        {
            return false;
        }
        if (question >= 0)
        {
            var rawQuery = target[(question + 1)..];
            if (rawQuery.IndexOfAnyExcept(QueryBytes) >= 0)
            {
                return false;
            }
            query = Encoding.ASCII.GetString(rawQuery);
        }
        path = Encoding.ASCII.GetString(rawPath);
        return true;
    }

    private static bool Is(ReadOnlySpan<byte> name, string expected) => Ascii.EqualsIgnoreCase(name, expected);

    /// <summary>Whether a comma-separated list names <paramref name="token"/> (any case).</summary>
    private static bool HasToken(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token)
    {
        foreach (var range in list.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(list[range].Trim(" \t"u8), token))
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsKey(ReadOnlySpan<byte> value)
    {
        Span<byte> decoded = stackalloc byte[18];
        return value.Length == 24 && System.Buffers.Text.Base64.DecodeFromUtf8(value, decoded, out _, out int written) == System.Buffers.OperationStatus.Done
            && written == 16;
    }

    private static bool IsToken(ReadOnlySpan<byte> name) => name.IndexOfAnyExcept(TokenBytes) < 0;

    /// <summary>Visible ASCII, space and tab: a value with any other byte is Kestrel's to judge.</summary>
    private static bool IsPrintable(ReadOnlySpan<byte> value) => value.IndexOfAnyExcept(PrintableBytes) < 0;

    private static readonly System.Buffers.SearchValues<byte> TokenBytes =
        System.Buffers.SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static readonly System.Buffers.SearchValues<byte> PrintableBytes = System.Buffers.SearchValues.Create(Printable());

    private static readonly System.Buffers.SearchValues<byte> HostBytes =
        System.Buffers.SearchValues.Create("-.:[]0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static readonly System.Buffers.SearchValues<byte> PathBytes =
        System.Buffers.SearchValues.Create("-._~!$&'()*+,;=:@/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static readonly System.Buffers.SearchValues<byte> QueryBytes =
        System.Buffers.SearchValues.Create("-._~!$&'()*+,;=:@/?%0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    private static byte[] Printable()
    {
        var bytes = new List<byte> { (byte)'\t' };
        for (int b = 0x20; b < 0x7F; b++)
        {
            bytes.Add((byte)b);
        }
        return [.. bytes];
    }
}
