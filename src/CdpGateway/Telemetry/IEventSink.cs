namespace CdpGateway.Telemetry;

/// <summary>
/// A consumer that <see cref="EventStream"/> hands every stored event to, in seq order.
/// </summary>
/// <remarks>
/// <see cref="TryEnqueue"/> is called on the publisher's path while the stream holds its seq lock (that is what
/// keeps sinks in seq order), so it must be cheap and must never block or wait: queue the event and do the real
/// work elsewhere.
/// </remarks>
public interface IEventSink
{
    /// <summary>Queues one event. Returns false when it had to be dropped (the stream counts it as dropped).</summary>
    bool TryEnqueue(EventEnvelope envelope);
}
