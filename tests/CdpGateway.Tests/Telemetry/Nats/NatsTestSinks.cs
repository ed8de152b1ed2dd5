using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Nats;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>What the NATS sink's tests share: a stream with a fixed instance and boot, quick sink settings, events to publish.</summary>
internal static class NatsTestSinks
{
    public static EventStream NewStream(string instance, string boot) =>
        new(new FakeTimeProvider(), new TelemetryConfig(), source: new GatewayInstance(instance, boot));

    /// <summary>Settings with short waits (1 s ack timeout and shutdown grace, retries at most 250 ms apart).</summary>
    public static NatsSinkOptions Options(string url, string spoolDirectory) => new()
    {
        Url = url,
        SpoolDirectory = spoolDirectory,
        AckTimeout = TimeSpan.FromSeconds(1),
        ReconnectWaitMax = TimeSpan.FromMilliseconds(250),
        ShutdownGrace = TimeSpan.FromSeconds(1),
    };

    public static NatsEventSink NewSink(NatsSinkOptions options, EventStream stream, RecordingLogger<NatsEventSink>? logger = null) =>
        new(options, stream, stream.Source, TimeProvider.System, logger ?? new RecordingLogger<NatsEventSink>());

    /// <summary><paramref name="count"/> <c>cdp_connect</c> events.</summary>
    public static void Publish(EventStream stream, int count)
    {
        for (int i = 0; i < count; i++)
        {
            stream.PublishConnect("c" + i);
        }
    }
}
