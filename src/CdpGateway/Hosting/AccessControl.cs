using System.Net;
using System.Security.Cryptography;
using System.Text;
using CdpGateway.Proxy;
using Microsoft.AspNetCore.Http;

namespace CdpGateway.Hosting;

/// <summary>
/// Who may talk to the gateway: with <c>--token</c>, every request on both ports needs
/// <c>Authorization: Bearer TOKEN</c> or <c>?token=TOKEN</c> (401 before any upgrade); a WebSocket
/// upgrade that carries an <c>Origin</c> must name one of <c>--allowed-origins</c> (403), because a
/// web page can open a WebSocket to a local port while CDP clients send no Origin at all.
/// </summary>
public sealed class AccessControl(GatewayOptions options)
{
    private readonly byte[]? _token = string.IsNullOrEmpty(options.Token) ? null : Encoding.UTF8.GetBytes(options.Token);
    private readonly HashSet<string> _origins = ParseOrigins(options.AllowedOrigins);
    private readonly bool _anyOrigin = (options.AllowedOrigins ?? "").Split(',').Any(o => o.Trim() == "*");

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (_token is not null && !Authenticated(context.Request))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await PlainAnswer.WriteAsync(context, StatusCodes.Status401Unauthorized,
                "a token is required: send Authorization: Bearer TOKEN or ?token=TOKEN").ConfigureAwait(false);
            return;
        }
        if (context.WebSockets.IsWebSocketRequest && context.Request.Headers.Origin is { Count: > 0 } origin
            && !_anyOrigin && !_origins.Contains(origin.ToString().TrimEnd('/')))
        {
            await PlainAnswer.WriteAsync(context, StatusCodes.Status403Forbidden,
                $"WebSocket from origin '{origin}' refused: allow it with --allowed-origins").ConfigureAwait(false);
            return;
        }
        await next(context).ConfigureAwait(false);
    }

    /// <summary>
    /// For the CDP port's own upgrade path, which sees the request's raw header values: true only when the request
    /// certainly passes (a matching bearer token or a plain <c>token=</c> in the query, and no Origin or an allowed one).
    /// False sends the request through Kestrel and <see cref="InvokeAsync"/>, which decides and answers as always.
    /// </summary>
    internal bool CertainlyAllowsUpgrade(string? authorization, string? query, string? origin)
    {
        if (origin is not null && !_anyOrigin && !_origins.Contains(origin.TrimEnd('/')))
        {
            return false;
        }
        if (_token is null)
        {
            return true;
        }
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            && Matches(authorization["Bearer ".Length..].Trim()))
        {
            return true;
        }
        // One plain token= only: a value with an escape or a '+' is decoded first, and repeated ones are joined, which is
        // Kestrel's to do.
        var tokens = (query ?? "").Split('&').Where(p => p.StartsWith("token", StringComparison.OrdinalIgnoreCase) || p.Contains('%')).ToArray();
        return tokens is [var only] && only.StartsWith("token=", StringComparison.Ordinal) && only.AsSpan("token=".Length).IndexOfAny('%', '+') < 0
            && Matches(only["token=".Length..]);
    }

    /// <summary>True when the client authenticated with the query parameter (discovery then carries it on).</summary>
    public bool UsedQueryToken(HttpRequest request) =>
        _token is not null && request.Query.TryGetValue("token", out var value) && Matches(value.ToString());

    private bool Authenticated(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && Matches(header["Bearer ".Length..].Trim()))
        {
            return true;
        }
        return UsedQueryToken(request);
    }

    private bool Matches(string candidate) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(candidate), _token);

    private static HashSet<string> ParseOrigins(string? list) =>
        new((list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(o => o != "*").Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
}
