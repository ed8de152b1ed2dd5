using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry.Stats;

/// <summary>A <c>/stats</c> request the gateway cannot answer (400).</summary>
public sealed record StatsError([property: JsonPropertyName("error")] string Error);
