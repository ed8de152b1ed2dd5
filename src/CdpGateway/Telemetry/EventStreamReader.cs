namespace CdpGateway.Telemetry;

/// <summary>
/// One consumer's position in an <see cref="EventStream"/>. Created by <see cref="EventStream.CreateReader"/>.
/// Not thread-safe: one reader per consumer (e.g. per SSE connection).
/// </summary>
/// <remarks>
/// The ring keeps only the latest events, so a slow reader can fall behind. It is then not blocked and does not
/// block the publisher: its next read reports how many events it missed and continues at the oldest retained one.
/// </remarks>
public sealed class EventStreamReader
{
    public const int DefaultMaxBatch = 256;

    private readonly EventStream _stream;
    private long _position;

    internal EventStreamReader(EventStream stream, long afterSeq)
    {
        _stream = stream;
        _position = afterSeq;
    }

    /// <summary>The seq of the last event this reader returned or skipped as missed.</summary>
    public long Position => _position;

    /// <summary>Returns what is available now without waiting; an empty batch when nothing is new.</summary>
    public EventBatch TryRead(int maxEvents = DefaultMaxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEvents, 1);
        if (_stream.Seq <= _position)
        {
            return new EventBatch([], 0);
        }
        var events = new List<EventEnvelope>(Math.Min(maxEvents, 32));
        _position = _stream.Scan(_position, maxEvents, category: null, events, out long missed);
        return new EventBatch(events, missed);
    }

    /// <summary>
    /// Completes when an event after <see cref="Position"/> is available (at once if one already is). Cancelled by
    /// <paramref name="cancellationToken"/>.
    /// </summary>
    public Task WaitAsync(CancellationToken cancellationToken) =>
        _stream.WaitForEventAfterAsync(_position, cancellationToken);

    /// <summary>Waits until something is available, then returns it (never an empty batch).</summary>
    public async ValueTask<EventBatch> ReadAsync(int maxEvents = DefaultMaxBatch, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            EventBatch batch = TryRead(maxEvents);
            if (!batch.IsEmpty)
            {
                return batch;
            }
            await WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
