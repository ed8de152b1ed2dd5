using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry.Nats;

/// <summary>A snapshot of the NATS sink, as <c>GET /telemetry</c> shows it under <c>nats</c>.</summary>
public sealed record NatsSinkStatus
{
    /// <summary>The connection to a NATS server is open.</summary>
    [JsonPropertyName("connected")] public bool Connected { get; init; }

    /// <summary>The stream was found or created since the last failure that put it in doubt.</summary>
    [JsonPropertyName("stream_bound")] public bool StreamBound { get; init; }

    [JsonPropertyName("stream")] public required string Stream { get; init; }

    /// <summary>Events held in memory: queued for publishing, or in flight.</summary>
    [JsonPropertyName("pending")] public long Pending { get; init; }

    [JsonPropertyName("spooled_bytes")] public long SpooledBytes { get; init; }

    /// <summary>Events on disk not yet acknowledged by JetStream.</summary>
    [JsonPropertyName("spooled_events")] public long SpooledEvents { get; init; }

    /// <summary>Events JetStream acknowledged (a resent copy it recognised counts once).</summary>
    [JsonPropertyName("published")] public long Published { get; init; }

    /// <summary>Publish attempts that failed and were tried again.</summary>
    [JsonPropertyName("retried")] public long Retried { get; init; }

    /// <summary>Events ever written to the spool.</summary>
    [JsonPropertyName("spooled_total")] public long SpooledTotal { get; init; }

    /// <summary>Events lost: the spool was full, or the server refused one for good; also in the stream's <c>dropped_events</c>.</summary>
    [JsonPropertyName("dropped")] public long Dropped { get; init; }

    [JsonPropertyName("last_error")] public string? LastError { get; init; }

    [JsonPropertyName("last_error_at")] public DateTimeOffset? LastErrorAt { get; init; }
}
