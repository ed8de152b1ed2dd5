using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry.Stats;

/// <summary>
/// <c>GET /stats</c>: one array per series, oldest first, sample i covering [start + i × step, start + (i + 1) × step).
/// Counts are per interval (divide by <c>step_s</c> for a rate); <c>connections_open</c> and <c>chromium_state</c> are as
/// at the end of each interval.
/// </summary>
public sealed record StatsAnswer
{
    [JsonPropertyName("window")] public required string Window { get; init; }
    [JsonPropertyName("step_s")] public required int StepSeconds { get; init; }
    [JsonPropertyName("start")] public required string Start { get; init; }
    [JsonPropertyName("samples")] public required int Samples { get; init; }
    [JsonPropertyName("connections_open")] public required long[] ConnectionsOpen { get; init; }
    [JsonPropertyName("connects")] public required long[] Connects { get; init; }
    [JsonPropertyName("ends")] public required Dictionary<string, long[]> Ends { get; init; }
    [JsonPropertyName("messages_from_client")] public required long[] MessagesFromClient { get; init; }
    [JsonPropertyName("messages_from_upstream")] public required long[] MessagesFromUpstream { get; init; }
    [JsonPropertyName("bytes_from_client")] public required long[] BytesFromClient { get; init; }
    [JsonPropertyName("bytes_from_upstream")] public required long[] BytesFromUpstream { get; init; }
    [JsonPropertyName("commands")] public required long[] Commands { get; init; }
    [JsonPropertyName("chromium_changes")] public required long[] ChromiumChanges { get; init; }
    [JsonPropertyName("chromium_state")] public required string[] ChromiumState { get; init; }
}
