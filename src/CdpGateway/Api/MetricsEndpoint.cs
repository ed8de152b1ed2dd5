using CdpGateway.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CdpGateway.Api;

/// <summary><c>GET /metrics</c>: <see cref="GatewayMetrics"/> in the Prometheus text format, for a scraper.</summary>
public static class MetricsEndpoint
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/metrics", async (HttpContext context, GatewayMetrics metrics) =>
        {
            context.Response.ContentType = ContentType;
            await metrics.WriteAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        });
    }
}
