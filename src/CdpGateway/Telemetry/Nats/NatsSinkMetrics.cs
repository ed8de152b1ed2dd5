using System.Diagnostics.Metrics;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// The NATS sink's counts on the gateway's Meter (so on <c>/metrics</c> and over OTLP), read from the sink when a
/// collection asks. Registered only when the sink is on: a gateway without <c>--nats-url</c> shows no NATS families.
/// </summary>
public static class NatsSinkMetrics
{
    public static void Register(Meter meter, NatsEventSink sink)
    {
        meter.CreateObservableCounter("cdp_gateway_nats_published_total", () => sink.Published,
            description: "Events JetStream acknowledged.");
        meter.CreateObservableCounter("cdp_gateway_nats_retried_total", () => sink.Retried,
            description: "Publishes sent again after a failure or a missing ack.");
        meter.CreateObservableCounter("cdp_gateway_nats_spooled_total", () => sink.Spooled,
            description: "Events written to the on-disk spool because NATS was away, slow or behind.");
        meter.CreateObservableCounter("cdp_gateway_nats_dropped_total", () => sink.Dropped,
            description: "Events lost to NATS: the spool was full, or the server refused the message for good.");
        meter.CreateObservableGauge("cdp_gateway_nats_spool_bytes", () => sink.SpooledBytes,
            description: "Bytes waiting in the on-disk spool now.");
        meter.CreateObservableGauge("cdp_gateway_nats_pending", () => sink.Pending,
            description: "Events waiting in memory for their publish now.");
        meter.CreateObservableGauge("cdp_gateway_nats_connected", () => sink.Connected,
            description: "1 while the connection to NATS is open, else 0.");
    }
}
