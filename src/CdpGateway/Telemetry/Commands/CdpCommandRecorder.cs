using System.Buffers;
using System.Text.Json;
using CdpGateway.Proxy;
using CdpGateway.Telemetry.Metrics;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// One connection's <c>cdp_command</c> reporting. On the forwarding path it only decides admission
/// (control on, a reported and not excluded top-level method) and copies admitted messages into a
/// capture buffer of its own; after Chromium took the message it appends it to the pending
/// <see cref="CommandBatch"/>. A worker takes the batch whole, classifies and publishes off that path. The queue is bounded (frames and bytes): when full, a command is counted as dropped
/// rather than slowing the relay, and library traffic never enters it, so it cannot crowd commands out.
/// </summary>
/// <remarks>
/// The worker is shared by every connection of one publisher (<see cref="CdpCommandWorker"/>) and runs in short
/// batches, so a command costs no thread hop of its own and the relay and worker threads meet once per batch, not
/// once per command; each connection's commands are still worked in order by one thread at a time. Nothing (batch,
/// worker) is created until a connection's first admitted command.
/// </remarks>
public sealed class CdpCommandRecorder : IMessageTap
{
    public const int QueueFrames = 256;
    public const long QueueBytes = 8L * 1024 * 1024;

    // A capture buffer this large is given back after its message; a smaller one stays for the next message.
    private const int KeptCaptureBytes = 16 * 1024;

    private readonly string _connectionId;
    private readonly JsonEncodedText _encodedConnectionId;
    private readonly TelemetryConfig _config;
    private readonly IEventPublisher _publisher;
    private readonly EventStream? _stream;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly GatewayMetrics? _metrics;

    // The hand-over, guarded by _lock: the relay thread appends to the pending batch, the worker takes it whole, the
    // drain ends it. Frames and bytes count the pending batch and the one being worked.
    private readonly Lock _lock = new();
    private CommandBatch? _pending;
    private CommandBatch? _spare;
    private int _queuedFrames;
    private long _queuedBytes;
    private bool _closed;
    private bool _inFlight;
    private TaskCompletionSource? _drained;
    private volatile bool _drainGaveUp;

    // The batch being worked: its size and how many of its commands are done (written by the worker, read by a drain
    // that gives up, to count what was not published).
    private int _workingCount;
    private volatile int _workingDone;

    private CdpCommandWorker? _worker;
    private int _scheduled; // 1 while this recorder is on the worker's ready list (or being worked)
    private long _dropped;
    private long _excluded;
    private long _reported;

    // The message being captured (only the client-to-browser loop touches these).
    private byte[]? _capture;
    private bool _capturing;
    private int _captureLength;
    private bool _captureKnown;
    private CdpMethod _captureMethod;
    private bool _captureOverBudget;

    public CdpCommandRecorder(string connectionId, TelemetryConfig config, IEventPublisher publisher, TimeProvider time, ILogger logger,
        GatewayMetrics? metrics = null)
    {
        _metrics = metrics;
        _connectionId = connectionId;
        _encodedConnectionId = CdpCommandClassifier.EncodeConnectionId(connectionId);
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

    /// <summary><c>cdp_command</c> events published for this connection (counted on the command worker, after the publish).</summary>
    public long Reported => Interlocked.Read(ref _reported);

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
        _capturing = true;
        if (_capture is null || _capture.Length < firstChunk.Length)
        {
            ReleaseCapture();
            _capture = ArrayPool<byte>.Shared.Rent(Math.Max(firstChunk.Length, 1024));
        }
        Append(firstChunk);
        return true;
    }

    public void Append(ReadOnlySpan<byte> chunk)
    {
        if (!_capturing || _captureOverBudget)
        {
            return;
        }
        if (_captureLength + (long)chunk.Length > QueueBytes)
        {
            // Larger than the whole queue could ever hold: it cannot be reported.
            _captureOverBudget = true;
            return;
        }
        if (_captureLength + chunk.Length > _capture!.Length)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_capture.Length * 2, _captureLength + chunk.Length));
            _capture.AsSpan(0, _captureLength).CopyTo(grown);
            ArrayPool<byte>.Shared.Return(_capture);
            _capture = grown;
        }
        chunk.CopyTo(_capture.AsSpan(_captureLength));
        _captureLength += chunk.Length;
    }

    public void Forwarded(long timestamp)
    {
        if (!_capturing)
        {
            return;
        }
        _capturing = false;
        var method = _captureMethod;
        if (!_captureKnown)
        {
            if (_captureOverBudget || !CdpCommandClassifier.TryReadMethod(_capture.AsSpan(0, _captureLength), out method) || IsExcluded(method))
            {
                EndCapture();
                return;
            }
        }
        if (_captureOverBudget)
        {
            Interlocked.Increment(ref _dropped);
            EndCapture();
            return;
        }
        Enqueue(method, timestamp, _capture.AsSpan(0, _captureLength));
        EndCapture();
    }

    public void Abandon()
    {
        _capturing = false;
        EndCapture();
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
            if (_pending is null && !_inFlight)
            {
                ReleaseBatches();
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
        // being worked or still pending has not been published. The worker stops at its next command.
        lock (_lock)
        {
            _drainGaveUp = true;
            long lost = _inFlight ? _workingCount - _workingDone : 0;
            if (_pending is not null)
            {
                lost += _pending.Count;
                _queuedFrames -= _pending.Count;
                _queuedBytes -= _pending.CommandBytes;
                _pending.Release();
                _pending = null;
            }
            Interlocked.Add(ref _dropped, lost);
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

    /// <summary>After a message: keeps a small capture buffer for the next one, gives a large one back.</summary>
    private void EndCapture()
    {
        if (_capture is { Length: > KeptCaptureBytes })
        {
            ReleaseCapture();
        }
    }

    private void ReleaseCapture()
    {
        if (_capture is not null)
        {
            ArrayPool<byte>.Shared.Return(_capture);
            _capture = null;
        }
    }

    private void Enqueue(CdpMethod method, long timestamp, ReadOnlySpan<byte> command)
    {
        bool queued = false;
        bool filling = false;
        lock (_lock)
        {
            if (!_closed && _queuedFrames < QueueFrames && _queuedBytes + command.Length <= QueueBytes)
            {
                CommandBatch batch = _pending ??= TakeSpare();
                batch.Append(method, timestamp, command);
                _queuedFrames++;
                filling = _queuedFrames == CdpCommandWorker.WakeFrames ||
                    (_queuedBytes < CdpCommandWorker.WakeBytes && _queuedBytes + command.Length >= CdpCommandWorker.WakeBytes);
                _queuedBytes += command.Length;
                queued = true;
            }
        }
        if (!queued)
        {
            // Full, or after teardown.
            Interlocked.Increment(ref _dropped);
            return;
        }
        // Read before the exchange: while the worker has this recorder on its list (most commands under load) that
        // costs no atomic write to a line the worker also touches. A worker that took the batch before this append
        // cleared the flag before taking it, and the lock above orders that clear before this read.
        if (Volatile.Read(ref _scheduled) == 0 && Interlocked.Exchange(ref _scheduled, 1) == 0)
        {
            (_worker ??= CdpCommandWorker.For(_publisher)).Schedule(this);
        }
        if (filling)
        {
            // A burst: worked now rather than at the end of the batch, long before the queue's bound drops anything.
            _worker?.WakeEarly();
        }
    }

    private CommandBatch TakeSpare()
    {
        CommandBatch? spare = _spare;
        _spare = null;
        return spare ?? new CommandBatch();
    }

    private void ReleaseBatches()
    {
        _pending?.Release();
        _pending = null;
        _spare?.Release();
        _spare = null;
    }

    /// <summary>
    /// On the worker: takes everything pending in one go and classifies and publishes it, in order. Never throws; a
    /// throwing publisher costs the one command it was given.
    /// </summary>
    internal void RunQueued(CdpPayloadWriter payload)
    {
        // Cleared first: a command queued from here on schedules this recorder again.
        Interlocked.Exchange(ref _scheduled, 0);
        CommandBatch? batch;
        TaskCompletionSource? drained = null;
        lock (_lock)
        {
            batch = _pending;
            _pending = null;
            if (batch is null)
            {
                if (_closed && !_inFlight)
                {
                    drained = _drained;
                    _drained = null;
                }
            }
            else
            {
                _inFlight = true;
                _workingCount = batch.Count;
                _workingDone = 0;
            }
        }
        if (batch is null)
        {
            drained?.TrySetResult();
            return;
        }

        var records = batch.Read();
        int done = 0;
        // One reading of both clocks per batch, not per command: each command's wall time is this one minus how long
        // ago it was forwarded, which is as exact and saves two clock reads per command on the worker.
        long nowTimestamp = _time.GetTimestamp();
        DateTimeOffset now = _time.GetUtcNow();
        while (!_drainGaveUp && records.TryNext(out CdpMethod method, out long timestamp, out ReadOnlyMemory<byte> command))
        {
            Process(method, timestamp, now - _time.GetElapsedTime(timestamp, nowTimestamp), command, payload);
            _workingDone = ++done;
        }

        lock (_lock)
        {
            _inFlight = false;
            _queuedFrames -= batch.Count;
            _queuedBytes -= batch.CommandBytes;
            if (_closed)
            {
                batch.Release();
                if (_pending is null)
                {
                    _spare?.Release();
                    _spare = null;
                    drained = _drained;
                    _drained = null;
                }
            }
            else if (_spare is null && batch.Capacity <= CommandBatch.ReusableBytes)
            {
                batch.Clear();
                _spare = batch;
            }
            else
            {
                batch.Release();
            }
        }
        drained?.TrySetResult();
    }

    private void Process(CdpMethod method, long forwardedAt, DateTimeOffset at, ReadOnlyMemory<byte> command, CdpPayloadWriter payload)
    {
        try
        {
            var outcome = CdpCommandClassifier.ClassifyInto(command, method, _encodedConnectionId, payload, out _);
            if (outcome == ClassifyOutcome.Reported)
            {
                if (_stream is not null)
                {
                    _stream.PublishUtf8(CdpCommandEvents.Type, CdpCommandEvents.Category, payload.WrittenSpan, at);
                }
                else
                {
                    _publisher.PublishCommand(new CdpCommandData(method, payload.WrittenSpan.ToArray()), at);
                }
                Interlocked.Increment(ref _reported);
                _metrics?.CommandReported(method, forwardedAt);
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
                var isMethod = JsonStringText.NameEquals(ref reader, "method"u8);
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
}
