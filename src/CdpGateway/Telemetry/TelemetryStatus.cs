using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry;

/// <summary>
/// The body of <c>GET /telemetry</c>: the current configuration, the stream's counters, and the NATS sink's state
/// (null without <c>--nats-url</c>).
/// </summary>
public sealed record TelemetryStatus(
    [property: JsonPropertyName("config")] TelemetryConfigDocument Config,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("dropped_events")] long DroppedEvents,
    [property: JsonPropertyName("nats"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] Nats.NatsSinkStatus? Nats = null)
{
    public static TelemetryStatus Capture(TelemetryConfig config, EventStream stream, Nats.NatsEventSink? nats = null) =>
        new(TelemetryConfigDocument.From(config), stream.Seq, stream.DroppedEvents, nats?.Status());
}

/// <summary>
/// <see cref="TelemetryConfig"/> as the API shows it, one object per category (the shape a later PUT/PATCH
/// accepts back).
/// </summary>
public sealed record TelemetryConfigDocument(
    [property: JsonPropertyName("connection")] CategorySettings Connection,
    [property: JsonPropertyName("control")] ControlCategorySettings Control,
    [property: JsonPropertyName("system")] CategorySettings System)
{
    public static TelemetryConfigDocument From(TelemetryConfig config) => new(
        new CategorySettings(config.IsEnabled(EventCategory.Connection)),
        new ControlCategorySettings(
            config.IsEnabled(EventCategory.Control),
            new CdpCommandSettings([.. config.ExcludedCdpMethods])),
        new CategorySettings(config.IsEnabled(EventCategory.System)));
}

public sealed record CategorySettings([property: JsonPropertyName("enabled")] bool Enabled);

public sealed record ControlCategorySettings(
    [property: JsonPropertyName("enabled")] bool Enabled,
    [property: JsonPropertyName("cdp")] CdpCommandSettings Cdp);

public sealed record CdpCommandSettings(
    [property: JsonPropertyName("excluded_methods")] IReadOnlyList<string> ExcludedMethods);
