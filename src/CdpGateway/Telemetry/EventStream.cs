using System.Text.Json.Serialization.Metadata;

namespace CdpGateway.Telemetry;

/// <summary>
/// The gateway's single telemetry stream: numbers every event, serializes it once, keeps the latest
/// <see cref="Capacity"/> in a ring for live readers and the events endpoint (<see cref="EventRing"/>: publishing
/// allocates nothing there), and forwards each to the registered sinks (the events file).
/// </summary>
/// <remarks>
/// Publishing runs on the proxy's hot paths, so it never blocks on a reader, never logs, never throws, and holds its
/// lock only to number the event, store it and hand it to the (non-blocking) sinks. Readers are lock-free: they copy
/// an event out of its ring slot and keep the copy only if the slot still holds that seq afterwards, so an overwritten
/// slot is detected by comparing seqs instead of locking out the publisher.
/// </remarks>
public sealed class EventStream : IEventPublisher
{
    public const int DefaultCapacity = 8192;

    // The serializer is per thread so concurrent publishers do not contend on it; it is taken out of the slot while
    // in use so that a (pathological) re-entrant publish from inside a data serializer gets its own.
    [ThreadStatic] private static EventJsonWriter? t_eventWriter;

    private readonly TimeProvider _time;
    private readonly TelemetryConfig _config;
    private readonly EventRing _ring;
    private readonly Lock _publishLock = new();

    // Written only under _publishLock, after the ring slot it names; read lock-free with Volatile.Read.
    private long _seq;
    private long _droppedEvents;

    // Created by the first reader that has to wait, completed (and cleared) by the next publish, so a publish with
    // nobody waiting allocates nothing for wake-ups. Guarded by _publishLock.
    private TaskCompletionSource? _eventsAvailable;

    // Copy-on-write, replaced under _publishLock, so publishers iterate it without further locking.
    private IEventSink[] _sinks = [];

    /// <param name="source">Who publishes, named in every envelope; by default this host with port 9222 and a new boot id.</param>
    public EventStream(TimeProvider time, TelemetryConfig config, int capacity = DefaultCapacity, GatewayInstance? source = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _time = time;
        _config = config;
        _ring = new EventRing(capacity);
        Source = source ?? GatewayInstance.Create(null, 9222);
    }

    /// <summary>The instance and boot every envelope's <c>source</c> names.</summary>
    public GatewayInstance Source { get; }

    /// <summary>How many of the latest events the ring retains.</summary>
    public int Capacity => _ring.Capacity;

    /// <summary>The seq of the latest published event (0 before the first).</summary>
    public long Seq => Volatile.Read(ref _seq);

    /// <summary>Events lost: failed serializations, full sink queues and sink write failures.</summary>
    public long DroppedEvents => Interlocked.Read(ref _droppedEvents);

    /// <summary>The seq of the oldest event still in the ring (0 when none was published).</summary>
    public long OldestRetainedSeq
    {
        get
        {
            long latest = Seq;
            return latest == 0 ? 0 : Math.Max(1, latest - _ring.Capacity + 1);
        }
    }

    public long Publish<T>(string type, string category, T data, JsonTypeInfo<T> dataType, DateTimeOffset? timestamp = null) =>
        PublishCore(type, category, new SerializedData<T>(data, dataType), timestamp);

    /// <summary>
    /// Publishes an event whose <c>data</c> is already serialized: <paramref name="dataJson"/> must be one compact UTF-8
    /// JSON object (no raw newline); it is embedded unchanged, exactly as a converter writing it raw would. Same
    /// contract as <see cref="Publish{T}"/> (never throws, never blocks on a reader), without a data object or a
    /// serializer pass.
    /// </summary>
    public long PublishUtf8(string type, string category, ReadOnlySpan<byte> dataJson, DateTimeOffset? timestamp = null) =>
        PublishCore(type, category, new Utf8Data(dataJson), timestamp);

    private long PublishCore<TData>(string type, string category, TData data, DateTimeOffset? timestamp)
        where TData : IEventData, allows ref struct
    {
        if (!_config.IsEnabled(category))
        {
            return 0;
        }

        EventJsonWriter? writer = t_eventWriter;
        t_eventWriter = null;
        try
        {
            writer ??= new EventJsonWriter();
            long ts = ToUnixMicroseconds(timestamp ?? _time.GetUtcNow());
            data.WriteTo(writer, ts, type, category, Source);
            long seq = Append(category, type, writer.WrittenSpan);
            t_eventWriter = writer;
            return seq;
        }
        catch (Exception)
        {
            // The contract is "never throws": a data type that cannot be serialized (or a clock that throws) costs
            // that one event, visible in dropped_events, not the connection that tried to report it. Serialization
            // happens before a seq is taken, so a failure leaves no gap in the seq numbers.
            Interlocked.Increment(ref _droppedEvents);
            return 0;
        }
    }

    /// <summary>How one event's data goes into the envelope: serialized now, or already serialized.</summary>
    private interface IEventData
    {
        void WriteTo(EventJsonWriter writer, long tsMicroseconds, string type, string category, GatewayInstance source);
    }

    private readonly struct SerializedData<T>(T data, JsonTypeInfo<T> dataType) : IEventData
    {
        public void WriteTo(EventJsonWriter writer, long tsMicroseconds, string type, string category, GatewayInstance source) =>
            writer.Write(tsMicroseconds, type, category, source, data, dataType);
    }

    private readonly ref struct Utf8Data(ReadOnlySpan<byte> dataJson) : IEventData
    {
        private readonly ReadOnlySpan<byte> _dataJson = dataJson;

        public void WriteTo(EventJsonWriter writer, long tsMicroseconds, string type, string category, GatewayInstance source) =>
            writer.WriteUtf8(tsMicroseconds, type, category, source, _dataJson);
    }

    /// <summary>
    /// A reader positioned after <paramref name="afterSeq"/>: its first read returns the event with seq
    /// <c>afterSeq + 1</c> (or reports the events missed if that one is no longer retained). Use <see cref="Seq"/>
    /// to see only new events, 0 to start from the very first.
    /// </summary>
    public EventStreamReader CreateReader(long afterSeq) => new(this, Math.Max(0, afterSeq));

    /// <summary>A reader that starts at the oldest retained event without reporting the older ones as missed.</summary>
    public EventStreamReader CreateReaderFromOldest() => new(this, Math.Max(0, Seq - _ring.Capacity));

    /// <summary>
    /// Up to <paramref name="limit"/> retained events with seq greater than <paramref name="afterSeq"/>, ascending,
    /// optionally only those of one <paramref name="category"/>.
    /// </summary>
    public IReadOnlyList<EventEnvelope> Snapshot(long afterSeq, int limit, string? category)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var events = new List<EventEnvelope>(Math.Min(limit, 64));
        Scan(Math.Max(0, afterSeq), limit, category, events, out _);
        return events;
    }

    /// <summary>
    /// Registers a sink; it receives every event published from now on, in seq order.
    /// </summary>
    public void AddSink(IEventSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        lock (_publishLock)
        {
            _sinks = [.. _sinks, sink];
        }
    }

    /// <summary>
    /// Unregisters a sink. When this returns, no publish is still handing the sink an event and none will again,
    /// which is what lets a sink drain its queue completely on shutdown.
    /// </summary>
    public void RemoveSink(IEventSink sink)
    {
        lock (_publishLock)
        {
            int index = Array.IndexOf(_sinks, sink);
            if (index < 0)
            {
                return;
            }
            var remaining = new IEventSink[_sinks.Length - 1];
            Array.Copy(_sinks, 0, remaining, 0, index);
            Array.Copy(_sinks, index + 1, remaining, index, remaining.Length - index);
            _sinks = remaining;
        }
    }

    /// <summary>Counts events a sink accepted but then lost (e.g. the events file could not be written).</summary>
    public void CountDropped(long count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref _droppedEvents, count);
        }
    }

    internal static long ToUnixMicroseconds(DateTimeOffset timestamp) =>
        (timestamp.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond;

    /// <summary>
    /// A task that completes once an event with seq greater than <paramref name="afterSeq"/> exists, or is cancelled
    /// by <paramref name="cancellationToken"/>.
    /// </summary>
    internal Task WaitForEventAfterAsync(long afterSeq, CancellationToken cancellationToken)
    {
        if (Seq > afterSeq)
        {
            return Task.CompletedTask;
        }
        Task available;
        lock (_publishLock)
        {
            // Checked again under the lock: a publish between the first check and here would otherwise have found no
            // waiter to wake, and this reader would sleep past an event that is already there.
            if (_seq > afterSeq)
            {
                return Task.CompletedTask;
            }
            // RunContinuationsAsynchronously: the publisher completes this and must not end up running readers'
            // continuations (SSE writes) on its own thread.
            _eventsAvailable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            available = _eventsAvailable.Task;
        }
        return available.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Copies the retained events after <paramref name="afterSeq"/> (at most <paramref name="max"/> of them, only
    /// <paramref name="category"/> if given) into <paramref name="into"/>. Returns the seq the scan got up to, and in
    /// <paramref name="missed"/> how many wanted events the ring had already overwritten.
    /// </summary>
    internal long Scan(long afterSeq, int max, string? category, List<EventEnvelope> into, out long missed)
    {
        missed = 0;
        long latest = Seq;
        long next = afterSeq + 1;
        while (next <= latest && into.Count < max)
        {
            long oldest = _ring.OldestReadable(latest);
            if (next < oldest)
            {
                missed += oldest - next;
                next = oldest;
                continue;
            }
            if (!_ring.TryRead(next, category, out EventEnvelope? envelope))
            {
                // A publisher took the slot after 'latest' was read; it raised the ring's oldest readable seq past
                // 'next' before that, so the next round counts it as missed: this always makes progress.
                latest = Seq;
                continue;
            }
            if (envelope is not null)
            {
                into.Add(envelope);
            }
            next++;
        }
        return next - 1;
    }

    private long Append(string category, string type, ReadOnlySpan<byte> eventJson)
    {
        TaskCompletionSource? wake;
        long seq;
        lock (_publishLock)
        {
            seq = _seq + 1;
            _ring.Write(seq, category, type, eventJson);
            // After the slot: a lock-free reader that sees this seq finds its envelope in place.
            Volatile.Write(ref _seq, seq);

            wake = _eventsAvailable;
            _eventsAvailable = null;

            // Inside the lock so every sink receives events in seq order. Each sink keeps its envelope beyond the
            // ring's slot, so it gets a copy (only when there is a sink: the ring alone allocates nothing).
            IEventSink[] sinks = _sinks;
            EventEnvelope? envelope = sinks.Length == 0 ? null : _ring.CopyLatest(seq);
            foreach (IEventSink sink in sinks)
            {
                bool accepted;
                try
                {
                    accepted = sink.TryEnqueue(envelope!);
                }
                catch (Exception)
                {
                    accepted = false;
                }
                if (!accepted)
                {
                    Interlocked.Increment(ref _droppedEvents);
                }
            }
        }
        wake?.TrySetResult();
        return seq;
    }
}
