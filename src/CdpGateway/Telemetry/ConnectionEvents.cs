using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry;

public static class ConnectionEventTypes
{
    public const string Connect = "cdp_connect";
    public const string Disconnect = "cdp_disconnect";
}

/// <summary>Data of <c>cdp_connect</c>.</summary>
public sealed record CdpConnectData(
    [property: JsonPropertyName("connection_id")] string ConnectionId,
    [property: JsonPropertyName("target")] string Target);

/// <summary>Data of <c>cdp_disconnect</c>.</summary>
public sealed record CdpDisconnectData
{
    [JsonPropertyName("connection_id")] public required string ConnectionId { get; init; }
    [JsonPropertyName("reason")] public required string Reason { get; init; }
    [JsonPropertyName("duration_ms")] public required double DurationMs { get; init; }
    [JsonPropertyName("message_count")] public long MessageCount => MessagesFromClient + MessagesFromUpstream;
    [JsonPropertyName("messages_from_client")] public long MessagesFromClient { get; init; }
    [JsonPropertyName("messages_from_upstream")] public long MessagesFromUpstream { get; init; }
    [JsonPropertyName("bytes_from_client")] public long BytesFromClient { get; init; }
    [JsonPropertyName("bytes_from_upstream")] public long BytesFromUpstream { get; init; }

    /// <summary>The close code that ended the client's socket; null when it ended without a close frame.</summary>
    [JsonPropertyName("close_code"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public int? CloseCode { get; init; }
    [JsonPropertyName("telemetry_dropped")] public long TelemetryDropped { get; init; }
    [JsonPropertyName("telemetry_excluded")] public long TelemetryExcluded { get; init; }
}

/// <summary>The four disconnect reasons, exactly.</summary>
public static class DisconnectReason
{
    public const string ClientClose = "client_close";
    public const string ContextCancelled = "context_cancelled";
    public const string UpstreamChanged = "upstream_changed";
    public const string UpstreamError = "upstream_error";
}
