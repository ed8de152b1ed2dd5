using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace CdpGateway.Hosting;

/// <summary>Which of the gateway's two ports a request came in on.</summary>
public enum AccessPort
{
    Cdp,
    Api,
}

/// <summary>
/// What the access decision reads of one request, as sent (header values unjoined by nothing but the comma a repeated
/// header gets). Built by the Kestrel middleware from an <c>HttpRequest</c> and by the CDP port's own upgrade path from
/// the raw request head, so both are judged by the same <see cref="AccessPolicy.Decide"/>.
/// </summary>
public readonly record struct AccessRequest
{
    public AccessPort Port { get; init; }
    public string Method { get; init; }

    /// <summary>Null when the request has no Host header (an HTTP/1.0 request may).</summary>
    public string? Host { get; init; }

    public string? ForwardedHost { get; init; }
    public string? Origin { get; init; }
    public string? SecFetchSite { get; init; }
    public string? Authorization { get; init; }

    /// <summary>The raw query, escapes and all, with or without its leading <c>?</c>.</summary>
    public string? Query { get; init; }

    public string? ContentType { get; init; }

    /// <summary>True when the request frames a body: a Content-Length above zero or any Transfer-Encoding.</summary>
    public bool HasBody { get; init; }

    /// <summary><c>Access-Control-Request-Method</c>: set on a browser's CORS preflight.</summary>
    public string? PreflightMethod { get; init; }

    /// <summary><c>Access-Control-Request-Private-Network: true</c> on the preflight.</summary>
    public bool PrivateNetworkRequested { get; init; }
}

public enum AccessOutcome
{
    /// <summary>Serve the request (with CORS headers when <see cref="AccessDecision.CorsOrigin"/> is set).</summary>
    Allow,

    /// <summary>Answer <see cref="AccessDecision.Status"/> with <see cref="AccessDecision.Message"/> and nothing else.</summary>
    Refuse,

    /// <summary>Answer a CORS preflight from an allowed origin with No Content and the CORS headers.</summary>
    Preflight,
}

/// <summary>The answer of <see cref="AccessPolicy.Decide"/>; its headers are written by <see cref="WriteHeaders"/>.</summary>
public readonly record struct AccessDecision(AccessOutcome Outcome, int Status, string? Message, string? CorsOrigin, bool PrivateNetwork, AccessPort Port)
{
    public static readonly AccessDecision Allowed = new(AccessOutcome.Allow, 200, null, null, false, AccessPort.Cdp);

    public bool IsAllowed => Outcome == AccessOutcome.Allow;

    /// <summary>The response headers this decision calls for (none for a plain allow).</summary>
    public IEnumerable<KeyValuePair<string, string>> Headers()
    {
        if (Outcome == AccessOutcome.Refuse && Status == 401)
        {
            yield return new("WWW-Authenticate", "Bearer");
        }
        if (CorsOrigin is null)
        {
            yield break;
        }
        yield return new("Access-Control-Allow-Origin", CorsOrigin);
        yield return new("Vary", "Origin");
        if (Outcome != AccessOutcome.Preflight)
        {
            yield break;
        }
        yield return new("Access-Control-Allow-Methods", Port == AccessPort.Api ? "GET, HEAD, POST, PUT, PATCH, DELETE" : "GET, HEAD, PUT");
        yield return new("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID");
        yield return new("Access-Control-Max-Age", "600");
        if (PrivateNetwork)
        {
            yield return new("Access-Control-Allow-Private-Network", "true");
        }
    }
}

/// <summary>
/// Who may use the gateway, decided once per request or upgrade, in this order:
/// <list type="number">
/// <item>The Host must name the gateway as a loopback or LAN client would: an IP literal, <c>localhost</c>, or a name in
/// <c>--allowed-hosts</c>. A web page can point a name of its own at a loopback address (DNS rebinding) and then talk to the
/// gateway as its own origin; its requests still carry that name as Host, which this refuses.</item>
/// <item>A request from a web page (an <c>Origin</c>, or <c>Sec-Fetch-Site: cross-site</c>) needs an origin in
/// <c>--allowed-origins</c> or the gateway's own origin (the dashboard). Automation clients send neither.</item>
/// <item>The token of the port and scope: the CDP port <c>--token</c>; the API port's control requests
/// <c>--api-token</c> (or <c>--token</c> without one), its reads either.</item>
/// <item>A control request with a body must say it is JSON: a form post or <c>text/plain</c> is what a page can send
/// without asking first.</item>
/// </list>
/// Pure: the same request always gets the same answer, and nothing here changes after construction.
/// </summary>
public sealed class AccessPolicy
{
    private readonly byte[]? _tokenHash;
    private readonly byte[]? _apiTokenHash;
    private readonly HashSet<string> _hosts;
    private readonly bool _anyHost;
    private readonly HashSet<string> _origins;
    private readonly bool _anyOrigin;
    private readonly bool _trustForwarded;

    public AccessPolicy(GatewayOptions options)
    {
        _tokenHash = string.IsNullOrEmpty(options.Token) ? null : Hash(options.Token);
        _apiTokenHash = string.IsNullOrEmpty(options.ApiToken) ? null : Hash(options.ApiToken);
        var hosts = List(options.AllowedHosts);
        _anyHost = hosts.Contains("*");
        _hosts = new(hosts.Where(h => h != "*").Select(h => HostName(h).ToString()), StringComparer.OrdinalIgnoreCase);
        var origins = List(options.AllowedOrigins);
        _anyOrigin = origins.Contains("*");
        _origins = new(origins.Where(o => o != "*").Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
        _trustForwarded = options.TrustForwardedHeaders;
    }

    public AccessDecision Decide(in AccessRequest request)
    {
        if (RefuseHost(request) is { } hostRefusal)
        {
            return Refuse(403, hostRefusal);
        }

        string? corsOrigin = null;
        if (request.Origin is { } origin)
        {
            var trimmed = origin.TrimEnd('/');
            if (trimmed == "null")
            {
                return Refuse(403, "a request from an opaque origin ('Origin: null': a sandboxed frame or a file) is refused");
            }
            if (_anyOrigin || _origins.Contains(trimmed))
            {
                corsOrigin = origin;
            }
            else if (!IsOwnOrigin(trimmed, request))
            {
                return Refuse(403, $"a request from origin '{Shown(origin)}' is refused: allow it with --allowed-origins");
            }
        }
        else if (request.SecFetchSite is { } site && site.Contains("cross-site", StringComparison.OrdinalIgnoreCase))
        {
            return Refuse(403, "a cross-site request (Sec-Fetch-Site: cross-site) without an allowed Origin is refused: allow its origin with --allowed-origins");
        }

        if (corsOrigin is not null && request.PreflightMethod is not null && IsMethod(request.Method, "OPTIONS"))
        {
            // A preflight carries no credentials, so it is answered before the token; the request it announces is not.
            return new AccessDecision(AccessOutcome.Preflight, 204, null, corsOrigin, request.PrivateNetworkRequested, request.Port);
        }

        if (RefuseToken(request) is { } tokenRefusal)
        {
            return tokenRefusal with { CorsOrigin = corsOrigin, Port = request.Port };
        }

        if (request.Port == AccessPort.Api && IsControl(request.Method) && request.HasBody && !IsJson(request.ContentType))
        {
            return new AccessDecision(AccessOutcome.Refuse, 415, $"a request body of type '{(request.ContentType is null ? "(none)" : Shown(request.ContentType))}' is refused: send Content-Type: application/json",
                corsOrigin, false, request.Port);
        }

        return corsOrigin is null ? AccessDecision.Allowed : new AccessDecision(AccessOutcome.Allow, 200, null, corsOrigin, false, request.Port);
    }

    /// <summary>True when the query's token is the CDP port's token (rewritten discovery URLs then carry it on).</summary>
    public bool QueryCarriesToken(string? query) => _tokenHash is not null && Matches(QueryToken(query).AsSpan(), _tokenHash);

    private string? RefuseHost(in AccessRequest request)
    {
        if (request.Host is not { Length: > 0 } host)
        {
            // Without a Host nothing shows which name the client used, so it cannot be told from a rebound one.
            return "a request without a Host header is refused: send Host with an IP address, localhost or a name in --allowed-hosts";
        }
        if (!AllowedHost(host))
        {
            return $"Host '{Shown(host)}' is refused: the gateway answers an IP address, localhost, or a name given with --allowed-hosts";
        }
        if (_trustForwarded && request.ForwardedHost is { } forwarded)
        {
            foreach (var range in forwarded.AsSpan().Split(','))
            {
                var one = forwarded.AsSpan()[range].Trim();
                if (!AllowedHost(one))
                {
                    return $"X-Forwarded-Host '{Shown(one.ToString())}' is refused: the gateway answers an IP address, localhost, or a name given with --allowed-hosts";
                }
            }
        }
        return null;
    }

    private bool AllowedHost(ReadOnlySpan<char> host)
    {
        if (host.IsEmpty)
        {
            return false;
        }
        if (_anyHost)
        {
            return true;
        }
        if (host[0] == '[')
        {
            int end = host.IndexOf(']');
            return end > 0 && (end == host.Length - 1 || host[end + 1] == ':')
                && IPAddress.TryParse(host[1..end], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }
        var name = HostName(host);
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || IsIPv4(name))
        {
            return true;
        }
        return _hosts.Count > 0 && _hosts.GetAlternateLookup<ReadOnlySpan<char>>().Contains(name);
    }

    /// <summary>The name without its port (a bracketed IPv6 literal is left whole).</summary>
    private static ReadOnlySpan<char> HostName(ReadOnlySpan<char> host)
    {
        if (host.StartsWith('['))
        {
            return host;
        }
        int colon = host.IndexOf(':');
        return colon < 0 ? host : host[..colon];
    }

    /// <summary>Four dotted decimal parts only: a browser turns every other IPv4 spelling into this one before it sends Host.</summary>
    private static bool IsIPv4(ReadOnlySpan<char> name) =>
        name.Count('.') == 3 && name.IndexOfAnyExcept("0123456789.") < 0 && IPAddress.TryParse(name, out _);

    /// <summary>The gateway's own pages (the dashboard) send their origin on every POST and PATCH.</summary>
    private bool IsOwnOrigin(string origin, in AccessRequest request)
    {
        if (OriginNames(origin, "http://", request.Host))
        {
            return true;
        }
        if (_trustForwarded && request.ForwardedHost is { } forwarded)
        {
            int comma = forwarded.IndexOf(',');
            var first = (comma < 0 ? forwarded : forwarded[..comma]).Trim();
            return OriginNames(origin, "http://", first) || OriginNames(origin, "https://", first);
        }
        return false;
    }

    private static bool OriginNames(string origin, string scheme, string? host) =>
        host is { Length: > 0 } && origin.Length == scheme.Length + host.Length
        && origin.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && origin.AsSpan(scheme.Length).Equals(host, StringComparison.OrdinalIgnoreCase);

    private AccessDecision? RefuseToken(in AccessRequest request)
    {
        bool control = request.Port == AccessPort.Api && IsControl(request.Method);
        // The CDP port and the API's control requests need one token; the API's reads take either.
        byte[]? needed, alsoTaken = null;
        if (request.Port == AccessPort.Cdp)
        {
            needed = _tokenHash;
        }
        else if (control)
        {
            needed = _apiTokenHash ?? _tokenHash;
        }
        else
        {
            needed = _tokenHash ?? _apiTokenHash;
            alsoTaken = _tokenHash is null ? null : _apiTokenHash;
        }
        if (needed is null)
        {
            return null;
        }
        var bearer = Bearer(request.Authorization);
        if (Matches(bearer, needed) || Matches(bearer, alsoTaken))
        {
            return null;
        }
        // The query is parsed only when the header did not already decide.
        var query = QueryToken(request.Query).AsSpan();
        if (Matches(query, needed) || Matches(query, alsoTaken))
        {
            return null;
        }
        if (control && _apiTokenHash is not null && (Matches(bearer, _tokenHash) || Matches(query, _tokenHash)))
        {
            return Refuse(403, "the control endpoints need the API token (--api-token): this token only reads");
        }
        return Refuse(401, "a token is required: send Authorization: Bearer TOKEN or ?token=TOKEN");
    }

    /// <summary>
    /// The query's one <c>token</c> value, decoded by ASP.NET Core's own query parser (escapes, <c>+</c>, any case of the
    /// name). A repeated token is no token: which of them would count is a guess the gateway does not make.
    /// </summary>
    private static string? QueryToken(string? query)
    {
        if (string.IsNullOrEmpty(query) || query == "?")
        {
            return null;
        }
        var parsed = QueryHelpers.ParseNullableQuery(query);
        return parsed is not null && parsed.TryGetValue("token", out var values) && values.Count == 1 ? values[0] : null;
    }

    /// <summary>The token of an <c>Authorization: Bearer</c> header, as a slice of it; empty when there is none.</summary>
    private static ReadOnlySpan<char> Bearer(string? authorization)
    {
        const string scheme = "Bearer ";
        return authorization is { Length: > 7 } && authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            ? authorization.AsSpan(scheme.Length).Trim()
            : default;
    }

    /// <summary>Compares digests, so neither the length nor any prefix of the token shows in the time taken.</summary>
    private static bool Matches(ReadOnlySpan<char> candidate, byte[]? expectedHash)
    {
        // No token is never a match, whatever was configured.
        if (candidate.IsEmpty || expectedHash is null)
        {
            return false;
        }
        int max = Encoding.UTF8.GetMaxByteCount(candidate.Length);
        byte[]? rented = max > 512 ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> bytes = rented ?? stackalloc byte[512];
        try
        {
            int length = Encoding.UTF8.GetBytes(candidate, bytes);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(bytes[..length], hash);
            return CryptographicOperations.FixedTimeEquals(hash, expectedHash);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented, clearArray: true);
            }
        }
    }

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>Anything but a read: the methods a browser preflights (or, for POST, sends cross-site as a form).</summary>
    private static bool IsControl(string method) => !IsMethod(method, "GET") && !IsMethod(method, "HEAD") && !IsMethod(method, "OPTIONS");

    private static bool IsMethod(string method, string expected) => string.Equals(method, expected, StringComparison.OrdinalIgnoreCase);

    private static bool IsJson(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }
        int semicolon = contentType.IndexOf(';');
        var type = (semicolon < 0 ? contentType.AsSpan() : contentType.AsSpan(0, semicolon)).Trim();
        return type.Equals("application/json", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A header value as a refusal quotes it: enough to recognise, never the whole of a long one.</summary>
    private static string Shown(string value) => value.Length <= 100 ? value : value[..100] + "...";

    private static AccessDecision Refuse(int status, string message) => new(AccessOutcome.Refuse, status, message, null, false, AccessPort.Cdp);

    private static List<string> List(string? list) =>
        [.. (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
}
