using System.Diagnostics.Metrics;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OtlpTemporality = CdpGateway.Tests.Support.Otlp.Metrics.AggregationTemporality;

namespace CdpGateway.Tests.Telemetry.Tracing;

/// <summary>
/// <c>--otlp-endpoint</c> also puts an OTLP exporter on the gateway's meter provider (wherever the metrics register
/// it): a histogram recorded there arrives at a real OTLP/HTTP collector with the gateway's resource.
/// </summary>
[Collection(OtlpExportCollection.Name)]
public sealed class MetricsExportTests
{
    [Fact]
    public async Task AHistogramOnTheGatewaysMeterProvider_ArrivesAtTheCollectorWithTheGatewaysResource()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        // Stands in for the gateway's own meter (its connection duration histogram): a meter of this test's own, registered
        // the way the gateway's metrics are, under a name the gateway's own metrics do not use.
        using var meter = new Meter("CdpGateway.Tests.MetricsExport." + Guid.NewGuid().ToString("N"));
        var durations = meter.CreateHistogram<double>("cdp_gateway_test_duration_seconds", unit: "s");
        await using var gw = await TestGateway.StartAsync(o => (o.OtlpEndpoint, o.InstanceId) = (receiver.Endpoint, "metered"),
            services: s => s.AddOpenTelemetry().WithMetrics(m => m.AddMeter(meter.Name)));

        durations.Record(0.25);
        durations.Record(1.5);
        Assert.True(gw.App.Services.GetRequiredService<MeterProvider>().ForceFlush(10_000));

        var metric = await receiver.WaitForMetricAsync("cdp_gateway_test_duration_seconds");
        var point = Assert.Single(metric.Metric.Histogram.DataPoints);
        Assert.Equal(2UL, point.Count);
        Assert.Equal(1.75, point.Sum);
        Assert.Equal(OtlpTemporality.Cumulative, metric.Metric.Histogram.AggregationTemporality);
        Assert.Equal("metered", metric.ResourceAttribute("service.instance.id"));
        Assert.Equal(OtlpExport.ServiceName, metric.ResourceAttribute("service.name"));
    }
}
