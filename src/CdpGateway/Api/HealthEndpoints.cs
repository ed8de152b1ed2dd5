using CdpGateway.Browser;
using CdpGateway.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CdpGateway.Api;

/// <summary>
/// <c>GET /health</c>: 200 <c>{"status":"ready"}</c> when the current browser answered
/// <c>Browser.getVersion</c> and has not ended since; otherwise 503 with the Chromium state
/// (<c>starting</c>, <c>restarting</c>, <c>backoff</c>, <c>crash_loop</c>, <c>stopped</c>, <c>unreachable</c>: it was ready
/// and stopped answering) and its last exit. Either carries <c>runtime_flags_error</c> while the persisted runtime flags
/// are ignored, and the open and queued connections.
/// </summary>
public static class HealthEndpoints
{
    public static void Map(IEndpointRouteBuilder api)
    {
        api.MapGet("/health", (IChromiumControl chromium, DevToolsUrlTracker tracker, ConnectionLimiter limiter, IServiceProvider services) =>
        {
            var nats = NatsHealth.From(services.GetService<Telemetry.Nats.NatsEventSink>());
            var status = chromium.Status;
            var connections = new ConnectionCounts(limiter.Open, limiter.Queued);
            if (chromium.IsReady && tracker.Current.Length > 0)
            {
                return Results.Json(new HealthStatus
                {
                    Status = ChromiumState.Ready,
                    DevToolsUrl = tracker.Current,
                    Generation = status.Generation,
                    RuntimeFlagsError = status.RuntimeFlagsError,
                    Connections = connections,
                    Nats = nats,
                },
                    ApiJsonContext.Default.HealthStatus);
            }
            var state = status.State == ChromiumState.Ready ? ChromiumState.Starting : status.State;
            return Results.Json(new HealthStatus
            {
                Status = state,
                DevToolsUrl = status.DevToolsUrl,
                Generation = status.Generation,
                LastExit = status.LastExit,
                NextStartInMs = status.NextStartInMs,
                Error = status.LastError,
                RuntimeFlagsError = status.RuntimeFlagsError,
                Connections = connections,
                Nats = nats,
            }, ApiJsonContext.Default.HealthStatus, statusCode: StatusCodes.Status503ServiceUnavailable);
        });
    }
}
