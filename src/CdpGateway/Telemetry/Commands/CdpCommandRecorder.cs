using System.Buffers;
using System.Text.Json;
using CdpGateway.Proxy;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// One connection's <c>cdp_command</c> reporting. On the forwarding path it only decides admission
/// (control on, a reported and not excluded top-level method) and copies admitted messages into a
/// pooled buffer; after Chromium took the message it queues it. A worker classifies and publishes
/// off that path. The queue is bounded (frames and bytes): when full, a command is counted as dropped
/// rather than slowing the relay, and library traffic never enters it, so it cannot crowd commands out.
/// </summary>
/// <remarks>
/// The worker is shared by every connection of one publisher (<see cref="CdpCommandWorker"/>) and runs in short
/// batches, so a command costs no thread hop of its own; each connection's queue is still worked in order by one
/// thread at a time. Nothing (queue, worker) is created until a connection's first admitted command.
/// </remarks>
public sealed class CdpCommandRecorder : IMessageTap
{
    public const int QueueFrames = 256;
    public const long QueueBytes = 8L * 1024 * 1024;

    private readonly string _connectionId;
    private readonly TelemetryConfig _config;
    private readonly IEventPublisher _publisher;
    private readonly EventStream? _stream;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // The queue and its state, guarded by _lock (the relay thread enqueues, the worker dequeues, the drain ends it).
    private readonly Lock _lock = new();
    private Queue<PendingCommand>? _queue;
    private long _queuedBytes; // queued and in-flight commands
    private bool _closed;
    private bool _inFlight;
    private TaskCompletionSource? _drained;
    private volatile bool _drainGaveUp;

    private CdpCommandWorker? _worker;
    private int _scheduled; // 1 while this recorder is on the worker's ready list (or being worked)
    private long _dropped;
    private long _excluded;

    // The message being captured (only the client-to-browser loop touches these).
    private byte[]? _capture;
    private int _captureLength;
    private bool _captureKnown;
    private CdpMethod _captureMethod;
    private bool _captureOverBudget;

    public CdpCommandRecorder(string connectionId, TelemetryConfig config, IEventPublisher publisher, TimeProvider time, ILogger logger)
    {
        _connectionId = connectionId;
        _config = config;
        _publisher = publisher;
        _stream = publisher as EventStream;
        _time = time;
        _logger = logger;
    }

    /// <summary>Commands lost: queue full, malformed, publisher failure, or arriving after teardown.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Reported methods the operator excluded, counted apart from losses.</summary>
    public long Excluded => Interlocked.Read(ref _excluded);

    public bool WantsMessages => _config.IsEnabled(EventCategory.Control);

    public bool Begin(ReadOnlySpan<byte> firstChunk, bool endOfMessage)
    {
        if (!_config.IsEnabled(EventCategory.Control))
        {
            return false;
        }
        CdpMethod method;
        if (endOfMessage)
        {
            if (!CdpCommandClassifier.TryReadMethod(firstChunk, out method))
            {
                return false;
            }
            _captureKnown = true;
        }
        else
        {
            switch (ScanPartial(firstChunk, out method))
            {
                case PartialScan.NotReported:
                    return false;
                case PartialScan.Reported:
                    _captureKnown = true;
                    break;
                default:
                    _captureKnown = false; // decided once the whole message is here
                    break;
            }
        }
        if (_captureKnown && IsExcluded(method))
        {
            return false;
        }
        _captureMethod = method;
        _captureLength = 0;
        _captureOverBudget = false;
        _capture = CommandBufferPool.Rent(Math.Max(firstChunk.Length, 1024));
        Append(firstChunk);
        return true;
    }

    public void Append(ReadOnlySpan<byte> chunk)
    {
        if (_capture is null || _captureOverBudget)
        {
            return;
        }
        if (_captureLength + (long)chunk.Length > QueueBytes)
        {
            // Larger than the whole queue could ever hold: it cannot be reported.
            _captureOverBudget = true;
            return;
        }
        if (_captureLength + chunk.Length > _capture.Length)
        {
            var grown = CommandBufferPool.Rent(Math.Max(_capture.Length * 2, _captureLength + chunk.Length));
            _capture.AsSpan(0, _captureLength).CopyTo(grown);
            CommandBufferPool.Return(_capture);
            _capture = grown;
        }
        chunk.CopyTo(_capture.AsSpan(_captureLength));
        _captureLength += chunk.Length;
    }

    public void Forwarded(long timestamp)
    {
        var buffer = _capture;
        if (buffer is null)
        {
            return;
        }
        _capture = null;
        var method = _captureMethod;
        if (!_captureKnown)
        {
            if (_captureOverBudget || !CdpCommandClassifier.TryReadMethod(buffer.AsSpan(0, _captureLength), out method))
            {
                CommandBufferPool.Return(buffer);
                return;
            }
            if (IsExcluded(method))
            {
                CommandBufferPool.Return(buffer);
                return;
            }
        }
        if (_captureOverBudget)
        {
            Interlocked.Increment(ref _dropped);
            CommandBufferPool.Return(buffer);
            return;
        }
        Enqueue(new PendingCommand(buffer, _captureLength, method, timestamp));
    }

    public void Abandon()
    {
        if (_capture is not null)
        {
            CommandBufferPool.Return(_capture);
            _capture = null;
        }
    }

    /// <summary>
    /// Stops taking commands and lets the worker publish what is queued, for up to <paramref name="wait"/>,
    /// so the last commands precede <c>cdp_disconnect</c>; whatever is left then counts as dropped.
    /// </summary>
    public async Task DrainAsync(TimeSpan wait)
    {
        Task drained;
        lock (_lock)
        {
            _closed = true;
            if ((_queue is null || _queue.Count == 0) && !_inFlight)
            {
                return;
            }
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            drained = _drained.Task;
        }
        await drained.WaitAsync(wait, _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (drained.IsCompleted)
        {
            return;
        }

        // The publisher is stuck (on one of ours or another connection's command): by the disconnect, whatever is
        // in flight or queued has not been published. The worker drops what it still reaches.
        List<byte[]> left = [];
        lock (_lock)
        {
            _drainGaveUp = true;
            if (_inFlight)
            {
                Interlocked.Increment(ref _dropped);
            }
            while (_queue!.TryDequeue(out var command))
            {
                Interlocked.Increment(ref _dropped);
                _queuedBytes -= command.Length;
                left.Add(command.Buffer);
            }
        }
        foreach (byte[] buffer in left)
        {
            CommandBufferPool.Return(buffer);
        }
    }

    private bool IsExcluded(CdpMethod method)
    {
        if (_config.ExcludedCdpMethods.Count > 0 && _config.IsCdpMethodExcluded(method.Name()))
        {
            Interlocked.Increment(ref _excluded);
            return true;
        }
        return false;
    }

    private void Enqueue(PendingCommand command)
    {
        bool queued = false;
        lock (_lock)
        {
            if (!_closed && (_queue is null || _queue.Count < QueueFrames) && _queuedBytes + command.Length <= QueueBytes)
            {
                (_queue ??= new Queue<PendingCommand>()).Enqueue(command);
                _queuedBytes += command.Length;
                queued = true;
            }
        }
        if (!queued)
        {
            // Full, or after teardown.
            Interlocked.Increment(ref _dropped);
            CommandBufferPool.Return(command.Buffer);
            return;
        }
        if (Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            (_worker ??= CdpCommandWorker.For(_publisher)).Schedule(this);
        }
    }

    /// <summary>
    /// On the worker: classifies and publishes everything queued, in order. Never throws; a throwing publisher
    /// costs the one command it was given.
    /// </summary>
    internal void RunQueued(CdpPayloadWriter payload)
    {
        // Cleared first: a command queued from here on schedules this recorder again.
        Interlocked.Exchange(ref _scheduled, 0);
        while (true)
        {
            PendingCommand command;
            TaskCompletionSource? drained = null;
            bool work = false;
            lock (_lock)
            {
                if (_queue is not null && _queue.TryDequeue(out command))
                {
                    if (_drainGaveUp)
                    {
                        // Too late to precede the disconnect: a loss, like anything the drain takes back.
                        Interlocked.Increment(ref _dropped);
                        _queuedBytes -= command.Length;
                    }
                    else
                    {
                        _inFlight = true;
                        work = true;
                    }
                }
                else
                {
                    if (_closed)
                    {
                        drained = _drained;
                        _drained = null;
                    }
                    command = default;
                }
            }
            if (command.Buffer is null)
            {
                drained?.TrySetResult();
                return;
            }
            if (work)
            {
                Process(command, payload);
                lock (_lock)
                {
                    _inFlight = false;
                    _queuedBytes -= command.Length;
                }
            }
            CommandBufferPool.Return(command.Buffer);
        }
    }

    private void Process(PendingCommand command, CdpPayloadWriter payload)
    {
        try
        {
            var outcome = CdpCommandClassifier.ClassifyInto(command.Buffer.AsMemory(0, command.Length), command.Method, _connectionId,
                payload, out _);
            if (outcome == ClassifyOutcome.Reported)
            {
                var at = _time.GetUtcNow() - _time.GetElapsedTime(command.Timestamp);
                if (_stream is not null)
                {
                    _stream.PublishUtf8(CdpCommandEvents.Type, CdpCommandEvents.Category, payload.WrittenSpan, at);
                }
                else
                {
                    _publisher.PublishCommand(new CdpCommandData(command.Method, payload.WrittenSpan.ToArray()), at);
                }
            }
            else if (outcome == ClassifyOutcome.Malformed)
            {
                Interlocked.Increment(ref _dropped);
            }
        }
        catch (Exception ex)
        {
            // A throwing publisher costs this one event, never the connection.
            if (!_drainGaveUp)
            {
                Interlocked.Increment(ref _dropped);
            }
            _logger.LogWarning(ex, "cdp_command for connection {ConnectionId} was lost", _connectionId);
        }
    }

    private enum PartialScan
    {
        Reported,
        NotReported,
        Undecided,
    }

    /// <summary>Admission on the first chunk of a longer message: the top-level method if it is already there.</summary>
    private static PartialScan ScanPartial(ReadOnlySpan<byte> start, out CdpMethod method)
    {
        method = default;
        var reader = new Utf8JsonReader(start, isFinalBlock: false, state: default);
        try
        {
            if (!reader.Read())
            {
                return PartialScan.Undecided;
            }
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return PartialScan.NotReported;
            }
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName)
                {
                    return PartialScan.NotReported;
                }
                var isMethod = reader.ValueTextEquals("method"u8);
                if (!reader.Read())
                {
                    return PartialScan.Undecided;
                }
                if (isMethod)
                {
                    return reader.TokenType == JsonTokenType.String && CdpCommandClassifier.TryLookup(reader.ValueSpan, out method)
                        ? PartialScan.Reported
                        : PartialScan.NotReported;
                }
                if (!reader.TrySkip())
                {
                    return PartialScan.Undecided;
                }
            }
            return PartialScan.Undecided;
        }
        catch (JsonException)
        {
            return PartialScan.NotReported;
        }
    }

    private readonly record struct PendingCommand(byte[] Buffer, int Length, CdpMethod Method, long Timestamp);
}
