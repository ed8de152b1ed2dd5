using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CdpGateway.Api;

/// <summary>
/// <c>GET /metrics</c>: the gateway's MeterProvider (<see cref="Telemetry.Metrics.GatewayMetricsSetup"/>) in the Prometheus text
/// format (OpenMetrics when the scraper asks for it), for a scraper. The API port's access control runs before it, as
/// before every endpoint of the port.
/// </summary>
public static class MetricsEndpoint
{
    public static void Map(IEndpointRouteBuilder api) =>
        // The exporter's endpoint answers any method; reading is a GET, as on every other read-only endpoint here.
        api.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(new HttpMethodMetadata([HttpMethods.Get]));
}
