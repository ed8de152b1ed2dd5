using CdpGateway.Telemetry.Metrics;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OtlpTemporality = CdpGateway.Tests.Support.Otlp.Metrics.AggregationTemporality;

namespace CdpGateway.Tests.Telemetry.Tracing;

/// <summary>
/// <c>--otlp-endpoint</c> also puts an OTLP exporter on the gateway's meter provider: the connection duration histogram
/// of a connection that came and went arrives at a real OTLP/HTTP collector with the gateway's resource.
/// </summary>
[Collection(OtlpExportCollection.Name)]
public sealed class MetricsExportTests
{
    [Fact]
    public async Task TheConnectionDurationHistogram_ArrivesAtTheCollectorWithTheGatewaysResource()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var gw = await TestGateway.StartAsync(o => (o.OtlpEndpoint, o.InstanceId) = (receiver.Endpoint, "metered"));
        using (var client = await gw.ConnectAsync())
        {
            await client.EchoAsync("{}");
        }
        await gw.WaitForEventAsync("cdp_disconnect");

        // Pushes the OTLP reader's collection now; the result is not asserted, because the provider's other reader, the
        // Prometheus scrape endpoint, is pulled and reports a flush as not done.
        gw.App.Services.GetRequiredService<MeterProvider>().ForceFlush(10_000);

        var metric = await receiver.WaitForMetricAsync("cdp_gateway_connection_duration_seconds");
        var point = Assert.Single(metric.Metric.Histogram.DataPoints);
        Assert.Equal(1UL, point.Count);
        Assert.Equal(OtlpTemporality.Cumulative, metric.Metric.Histogram.AggregationTemporality);
        Assert.Equal("metered", metric.ResourceAttribute("service.instance.id"));
        Assert.Equal(GatewayMetricsSetup.ServiceName, metric.ResourceAttribute("service.name"));
    }
}
