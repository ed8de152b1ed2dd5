using CdpGateway.Hosting;
using CdpGateway.Proxy;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace CdpGateway.Telemetry.Metrics;

/// <summary>
/// The gateway's MeterProvider, built in the gateway's own service collection: its <see cref="GatewayMetrics"/>, the
/// runtime's and the process's instruments, and the Prometheus exporter that <c>GET /metrics</c> serves. Other exporters
/// attach through <c>ConfigureOpenTelemetryMeterProvider</c>.
/// </summary>
public static class GatewayMetricsSetup
{
    public const string ServiceName = "cdp-gateway";

    public static IServiceCollection AddGatewayMetrics(this IServiceCollection services, GatewayInstance instance)
    {
        services.AddSingleton<OpenConnections>();
        services.AddSingleton<GatewayMetrics>();
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName, serviceVersion: GatewayVersion.Version, serviceInstanceId: instance.Id,
                autoGenerateServiceInstanceId: false))
            .WithMetrics(metrics => metrics
                .AddMeter(GatewayMetrics.MeterName)
                .AddRuntimeInstrumentation()
                .AddProcessInstrumentation()
                .AddPrometheusExporter(prometheus =>
                {
                    // Every scrape collects afresh: a cached answer would show counts a moment old.
                    prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
                    // The families keep the names and labels they had before OpenTelemetry: no otel_scope_* labels.
                    prometheus.ScopeInfoEnabled = false;
                }));
        services.ConfigureOpenTelemetryMeterProvider((sp, builder) =>
        {
            // Every gateway in the process has a Meter named CdpGateway; this provider keeps its own gateway's only.
            var ours = sp.GetRequiredService<GatewayMetrics>().Meter;
            builder.AddView(instrument => instrument.Meter.Name == GatewayMetrics.MeterName && !ReferenceEquals(instrument.Meter, ours)
                ? MetricStreamConfiguration.Drop
                : null);
        });
        return services;
    }
}
