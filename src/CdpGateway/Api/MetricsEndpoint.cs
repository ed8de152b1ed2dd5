using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace CdpGateway.Api;

/// <summary>
/// <c>GET /metrics</c>: the gateway's MeterProvider (<see cref="Telemetry.Metrics.GatewayMetricsSetup"/>) in the Prometheus text
/// format, for a scraper. The API port's access control runs before it, as before every endpoint of the port.
/// </summary>
public static class MetricsEndpoint
{
    public static void Map(IEndpointRouteBuilder api) => api.MapPrometheusScrapingEndpoint("/metrics");
}
