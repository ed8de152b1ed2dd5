using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CdpGateway.Api;

/// <summary>
/// <c>GET /</c>: the operator console (one self-contained HTML file, no outside resources) on the same API an operator
/// would use: it follows <c>/telemetry/stream</c> for connections and the browser's state, polls only what no event
/// says (<c>/connections</c> counters, <c>/stats</c>, <c>/metrics</c>), and acts through <c>DELETE /connections/{id}</c>,
/// <c>POST /chromium/restart</c>, <c>PATCH|PUT /chromium/flags</c> and <c>PATCH /telemetry</c> as a same-origin page,
/// under the same access checks as any caller. Opened as <c>/?token=T</c> it passes the token on to those requests.
/// </summary>
public static class DashboardEndpoint
{
    private const string ResourceName = "CdpGateway.Api.Dashboard.html";

    // The page's own inline script and style only: nothing is loaded from elsewhere, and it calls only this origin.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static readonly Lazy<byte[]> Page = new(() =>
    {
        using Stream resource = typeof(DashboardEndpoint).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the dashboard page ({ResourceName}) is not in the assembly");
        using var bytes = new MemoryStream();
        resource.CopyTo(bytes);
        return bytes.ToArray();
    });

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/", (HttpContext context) =>
        {
            context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
            context.Response.Headers.XContentTypeOptions = "nosniff";
            context.Response.Headers.CacheControl = "no-store";
            return Results.Bytes(Page.Value, "text/html; charset=utf-8");
        });
    }
}
