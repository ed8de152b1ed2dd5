namespace CdpGateway.Telemetry;

/// <summary>What one read from an <see cref="EventStreamReader"/> returned.</summary>
/// <param name="Events">The events, ascending seq; empty when nothing new was available.</param>
/// <param name="Missed">
/// How many events the reader lost because the ring overwrote them before it got to them (0 normally). They come
/// immediately before <c>Events[0]</c>.
/// </param>
public readonly record struct EventBatch(IReadOnlyList<EventEnvelope> Events, long Missed)
{
    public bool IsEmpty => Events.Count == 0 && Missed == 0;
}
