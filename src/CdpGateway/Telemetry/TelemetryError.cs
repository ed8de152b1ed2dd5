using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry;

/// <summary>The JSON body of a telemetry endpoint's 400 answer: <c>{"error":"..."}</c>.</summary>
public sealed record TelemetryError([property: JsonPropertyName("error")] string Error);
