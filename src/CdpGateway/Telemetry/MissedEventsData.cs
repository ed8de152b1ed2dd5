using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry;

/// <summary>
/// The data of the SSE <c>missed</c> event: how many events the ring overwrote before this client read them.
/// </summary>
public sealed record MissedEventsData([property: JsonPropertyName("missed")] long Missed);
