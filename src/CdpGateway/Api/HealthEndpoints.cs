using System.Text.Json.Serialization;
using CdpGateway.Browser;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CdpGateway.Api;

/// <summary><c>GET /health</c>: ready once a browser has announced its DevTools URL.</summary>
public static class HealthEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/health", (DevToolsUrlTracker tracker) =>
        {
            var url = tracker.Current;
            return url.Length > 0
                ? Results.Json(new HealthStatus("ready", url), ApiJsonContext.Default.HealthStatus)
                : Results.Json(new HealthStatus("starting", null), ApiJsonContext.Default.HealthStatus, statusCode: StatusCodes.Status503ServiceUnavailable);
        });
    }
}

public sealed record HealthStatus(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("devtools_url")] string? DevToolsUrl);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HealthStatus))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
