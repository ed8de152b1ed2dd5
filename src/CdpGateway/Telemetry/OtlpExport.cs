using CdpGateway.Hosting;
using CdpGateway.Telemetry.Tracing;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace CdpGateway.Telemetry;

/// <summary>
/// <c>--otlp-endpoint</c>: the gateway's spans and metrics go to an OpenTelemetry collector over OTLP, each gateway
/// through providers of its own (in its own service collection), named by a resource of
/// <c>service.name=cdp-gateway</c>, the version and <c>service.instance.id</c> (the instance id of every event).
/// </summary>
public static class OtlpExport
{
    /// <summary>
    /// Registers the gateway's <see cref="ConnectionTracing"/> and, with an endpoint, a tracer provider that exports its
    /// spans and an OTLP exporter on the gateway's meter provider (built where the metrics are registered; without
    /// one, there are no metrics to export).
    /// </summary>
    public static IServiceCollection AddOtlpExport(this IServiceCollection services, GatewayOptions options, GatewayInstance instance)
    {
        services.AddSingleton<ConnectionTracing>();
        if (options.OtlpEndpoint is not { Length: > 0 } endpoint)
        {
            return services;
        }
        var baseUri = CommandLine.ParseOtlpEndpoint(endpoint);
        var protocol = CommandLine.ParseOtlpProtocol(options.OtlpProtocol);
        // The resource (service name, version, instance) is the one GatewayMetricsSetup gives every signal.
        services.AddOpenTelemetry().WithTracing(tracing => tracing
            .AddSource(ConnectionTracing.SourceName)
            .AddProcessor(sp => new OwnSpansProcessor(sp.GetRequiredService<ConnectionTracing>().Source,
                new BatchActivityExportProcessor(new OtlpTraceExporter(ExporterOptions(baseUri, protocol, "v1/traces"))))));
        services.ConfigureOpenTelemetryMeterProvider(metrics => metrics
            .AddOtlpExporter(o => Configure(o, baseUri, protocol, "v1/metrics")));
        return services;
    }

    private static OtlpExporterOptions ExporterOptions(Uri baseUri, OtlpExportProtocol protocol, string signalPath)
    {
        var options = new OtlpExporterOptions();
        Configure(options, baseUri, protocol, signalPath);
        return options;
    }

    /// <summary>
    /// Over HTTP each signal has its own path under the endpoint (<c>/v1/traces</c>, <c>/v1/metrics</c>), as the
    /// OTLP exporters' own environment variable has it; over gRPC the endpoint is the collector's address as it is.
    /// </summary>
    private static void Configure(OtlpExporterOptions options, Uri baseUri, OtlpExportProtocol protocol, string signalPath)
    {
        options.Protocol = protocol;
        options.Endpoint = protocol == OtlpExportProtocol.HttpProtobuf
            ? new Uri(baseUri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/" + signalPath)
            : baseUri;
    }
}
