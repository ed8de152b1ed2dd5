using CdpGateway.Proxy;
using Microsoft.AspNetCore.Http;

namespace CdpGateway.Hosting;

/// <summary>
/// The Kestrel side of <see cref="AccessPolicy"/>: every request on both ports is put to it before routing, and a
/// refusal or a preflight is answered here. The CDP port's own upgrade path puts its requests to the same policy.
/// </summary>
public sealed class AccessControl(AccessPolicy policy)
{
    public AccessPolicy Policy => policy;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next, AccessPort port)
    {
        var decision = policy.Decide(Of(context.Request, port));
        var response = context.Response;
        // CORS means nothing to a WebSocket upgrade, and its Switching Protocols answer stays the same whichever path gives it.
        if (decision.Outcome != AccessOutcome.Allow || decision.CorsOrigin is not null && !context.WebSockets.IsWebSocketRequest)
        {
            foreach (var (name, value) in decision.Headers())
            {
                response.Headers.Append(name, value);
            }
        }
        switch (decision.Outcome)
        {
            case AccessOutcome.Allow:
                await next(context).ConfigureAwait(false);
                return;
            case AccessOutcome.Preflight:
                response.StatusCode = StatusCodes.Status204NoContent;
                return;
            default:
                await PlainAnswer.WriteAsync(context, decision.Status, decision.Message ?? "refused").ConfigureAwait(false);
                return;
        }
    }

    /// <summary>True when the client authenticated with the query parameter (discovery then carries it on).</summary>
    public bool UsedQueryToken(HttpRequest request) => policy.QueryCarriesToken(request.QueryString.Value);

    internal static AccessRequest Of(HttpRequest request, AccessPort port)
    {
        var headers = request.Headers;
        return new AccessRequest
        {
            Port = port,
            Method = request.Method,
            Host = Value(headers.Host),
            ForwardedHost = Value(headers["X-Forwarded-Host"]),
            Origin = Value(headers.Origin),
            SecFetchSite = Value(headers["Sec-Fetch-Site"]),
            Authorization = Value(headers.Authorization),
            Query = request.QueryString.Value,
            ContentType = Value(headers.ContentType),
            HasBody = request.ContentLength > 0 || headers.TransferEncoding.Count > 0,
            PreflightMethod = Value(headers.AccessControlRequestMethod),
            PrivateNetworkRequested = string.Equals(Value(headers["Access-Control-Request-Private-Network"]), "true", StringComparison.OrdinalIgnoreCase),
        };
    }

    /// <summary>Null for an absent header; a repeated one is joined with commas, which no allow-list or token matches.</summary>
    private static string? Value(Microsoft.Extensions.Primitives.StringValues values) => values.Count == 0 ? null : values.ToString();
}
