using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry;

public static class ConnectionEventTypes
{
    public const string Connect = "cdp_connect";
    public const string Disconnect = "cdp_disconnect";
}

/// <summary>Data of <c>cdp_connect</c>.</summary>
/// <param name="ClientAddress">
/// The client's address and port as the gateway's socket sees its peer (<c>127.0.0.1:50412</c>, <c>[::1]:50412</c>): a
/// proxy in front of the gateway shows here as itself. Null when the peer had already gone.
/// </param>
public sealed record CdpConnectData(
    [property: JsonPropertyName("connection_id")] string ConnectionId,
    [property: JsonPropertyName("target")] string Target,
    [property: JsonPropertyName("client_address"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? ClientAddress);

/// <summary>Data of <c>cdp_disconnect</c>.</summary>
public sealed record CdpDisconnectData
{
    [JsonPropertyName("connection_id")] public required string ConnectionId { get; init; }
    [JsonPropertyName("reason")] public required DisconnectReason Reason { get; init; }
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

    /// <summary>Who cancelled a <c>context_cancelled</c> connection: <c>operator</c> (closed through the API); absent otherwise.</summary>
    [JsonPropertyName("cancelled_by")] public string? CancelledBy { get; init; }
}

/// <summary>
/// Why a connection ended, as <c>cdp_disconnect</c> reports it. What decides each is
/// <see cref="CdpGateway.Proxy.DisconnectRules.Reason"/> (docs/disconnect-contract.md explains the rules).
/// </summary>
[JsonConverter(typeof(DisconnectReasonJsonConverter))]
public enum DisconnectReason
{
    ClientClose,
    ContextCancelled,
    UpstreamChanged,
    UpstreamError,
}

/// <summary>The one place the reasons' wire names are spelled: events and metric labels both go through it.</summary>
public static class DisconnectReasons
{
    /// <summary>Every reason, for a label set that exists before the first disconnect.</summary>
    public static IReadOnlyList<DisconnectReason> All { get; } = Enum.GetValues<DisconnectReason>();

    public static string WireName(this DisconnectReason reason) => reason switch
    {
        DisconnectReason.ClientClose => "client_close",
        DisconnectReason.ContextCancelled => "context_cancelled",
        DisconnectReason.UpstreamChanged => "upstream_changed",
        DisconnectReason.UpstreamError => "upstream_error",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };

    public static bool TryParse(string? wireName, out DisconnectReason reason)
    {
        foreach (var candidate in All)
        {
            if (candidate.WireName() == wireName)
            {
                reason = candidate;
                return true;
            }
        }
        reason = default;
        return false;
    }
}

/// <summary>Writes and reads a reason as its wire name (the source-generated context uses it for the enum).</summary>
public sealed class DisconnectReasonJsonConverter : JsonConverter<DisconnectReason>
{
    public override DisconnectReason Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options) =>
        DisconnectReasons.TryParse(reader.GetString(), out var reason) ? reason : throw new System.Text.Json.JsonException("not a disconnect reason");

    public override void Write(System.Text.Json.Utf8JsonWriter writer, DisconnectReason value, System.Text.Json.JsonSerializerOptions options) =>
        writer.WriteStringValue(value.WireName());
}
