using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace CdpGateway.Telemetry.Nats;

/// <summary>
/// <c>--nats-url</c>: ships every telemetry envelope to a JetStream stream, at least once and in seq order, on
/// <c>PREFIX.INSTANCE.CATEGORY.TYPE</c> with <c>Nats-Msg-Id: INSTANCE:BOOT:SEQ</c> (so a resent copy is dropped by
/// JetStream, not stored twice).
/// </summary>
/// <remarks>
/// Three stages, each with one owner. The publisher's path only enqueues (<see cref="IEventSink.TryEnqueue"/>, a
/// bounded channel). A router task turns each envelope into a <see cref="NatsSpoolRecord"/> and puts it in memory when
/// publishing keeps up, otherwise behind everything in the on-disk <see cref="NatsSpool"/> (a full spool drops the event
/// and counts it). A publisher task sends the oldest records in order, up to <see cref="WindowSize"/> of them before
/// their acks arrive, and retires them in the same order as their acks come: memory holds only events older than
/// anything spooled, a record stays the publisher's until JetStream acknowledged it, and the spool lets go only of its
/// acknowledged prefix. A failure (a timeout, a disconnect, an error ack) gives the whole window back and resends it
/// from the oldest unacknowledged record, which keeps the stream in seq order (see <see cref="AbandonWindowAsync"/>).
/// While NATS is away the waiting events go in front of the spool, so they wait on disk; when the stream is gone (a
/// server whose store was wiped) it is created again and the unacknowledged events resent.
/// </remarks>
public sealed partial class NatsEventSink : IEventSink, IAsyncDisposable
{
    /// <summary>Envelopes handed over but not yet routed; beyond it the stream counts a drop (a stalled disk).</summary>
    public const int QueueCapacity = 65536;

    /// <summary>Events held in memory in front of the publisher while it keeps up; beyond it they go to the spool.</summary>
    public const int MemoryCapacity = 4096;

    /// <summary>
    /// Publishes sent whose acks are still awaited, at most: enough that the round trip to JetStream does not pace the
    /// sink, few enough that a failure resends little.
    /// </summary>
    public const int WindowSize = 1024;

    private static readonly TimeSpan FirstRetryWait = TimeSpan.FromMilliseconds(100);

    private readonly NatsSinkOptions _options;
    private readonly EventStream _stream;
    private readonly GatewayInstance _instance;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<EventEnvelope> _intake;
    private readonly Lock _lock = new();
    private readonly Queue<NatsSpoolRecord> _memory = new();
    private readonly NatsSpool _spool;
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _js;
    private readonly NatsStreamBinder _binder;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _finish = new();
    private readonly Task _router;
    private readonly Task _publisher;

    // The publisher's alone: publishes sent and awaiting their acks, oldest first.
    private readonly Queue<InFlight> _window = new();

    // Shared between the router and the publisher, under _lock.
    private bool _healthy;
    private int _inFlightFromMemory;

    private volatile bool _routerDone;
    private volatile bool _streamBound;
    private int _disposed;

    private long _pending;
    private long _spooledBytes;
    private long _spooledEvents;
    private long _published;
    private long _retried;
    private long _spooledTotal;
    private long _dropped;
    private long _maxInFlight;
    private volatile ErrorNote? _lastError;

    public NatsEventSink(NatsSinkOptions options, EventStream stream, GatewayInstance instance, TimeProvider time, ILogger<NatsEventSink> logger)
    {
        _options = options;
        _stream = stream;
        _instance = instance;
        _time = time;
        _logger = logger;
        _spool = NatsSpool.Open(options.SpoolDirectory, options.SpoolBytes, logger);
        UpdateGauges();
        _binder = new NatsStreamBinder(options, logger);
        _connection = new NatsConnection(ConnectionOptions(options, instance));
        _js = new NatsJSContext(_connection);
        _intake = Channel.CreateBounded<EventEnvelope>(new BoundedChannelOptions(QueueCapacity)
        {
            // TryWrite returns false when full, which is what lets the stream count the loss.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            AllowSynchronousContinuations = false,
        });
        _router = Task.Run(RouteLoopAsync);
        _publisher = Task.Run(PublishLoopAsync);
        stream.AddSink(this);
    }

    private static NatsOpts ConnectionOptions(NatsSinkOptions options, GatewayInstance instance) => new()
    {
        Url = options.Url,
        Name = "cdp-gateway " + instance.Id,
        AuthOpts = new NatsAuthOpts
        {
            Token = options.Token,
            Username = options.User,
            Password = options.Password,
            CredsFile = options.CredsFile,
        },
        TlsOpts = options.UsesTls ? new NatsTlsOpts { CaFile = options.CaFile, Mode = TlsMode.Require } : new NatsTlsOpts(),
        // The gateway starts whether or not NATS is there, and never stops trying: the spool holds the events meanwhile.
        RetryOnInitialConnect = true,
        MaxReconnectRetry = -1,
        ReconnectWaitMin = FirstRetryWait,
        ReconnectWaitMax = options.ReconnectWaitMax,
        ConnectTimeout = TimeSpan.FromSeconds(2),
        RequestTimeout = options.AckTimeout,
        // The client's own log lines would name URLs and retries per attempt; the sink logs state changes itself.
        LoggerFactory = NullLoggerFactory.Instance,
    };

    /// <summary>1 while the connection to a NATS server is open, else 0 (a gauge's value).</summary>
    public long Connected => _connection.ConnectionState == NatsConnectionState.Open ? 1 : 0;

    private bool IsConnected => Connected == 1;

    /// <summary>Events held in memory (queued or in flight).</summary>
    public long Pending => Interlocked.Read(ref _pending) + _intake.Reader.Count;

    public long SpooledBytes => Interlocked.Read(ref _spooledBytes);

    public long SpooledEvents => Interlocked.Read(ref _spooledEvents);

    public long Published => Interlocked.Read(ref _published);

    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>Events ever written to the spool.</summary>
    public long Spooled => Interlocked.Read(ref _spooledTotal);

    /// <summary>Events lost: the spool was full (or the intake queue). Each is in the stream's dropped events too.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The most publishes that ever awaited their acks at once (at most <see cref="WindowSize"/>).</summary>
    public long MaxInFlight => Interlocked.Read(ref _maxInFlight);

    public string SpoolDirectory => _spool.Directory;

    public NatsSinkStatus Status()
    {
        var error = _lastError;
        return new NatsSinkStatus
        {
            Connected = IsConnected,
            StreamBound = _streamBound,
            Stream = _options.StreamName,
            Pending = Pending,
            SpooledBytes = SpooledBytes,
            SpooledEvents = SpooledEvents,
            Published = Published,
            Retried = Retried,
            SpooledTotal = Spooled,
            Dropped = Dropped,
            LastError = error?.Text,
            LastErrorAt = error?.At,
        };
    }

    bool IEventSink.TryEnqueue(EventEnvelope envelope)
    {
        if (_intake.Writer.TryWrite(envelope))
        {
            return true;
        }
        Interlocked.Increment(ref _dropped);
        return false;
    }

    private async Task RouteLoopAsync()
    {
        var reader = _intake.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var envelope))
                {
                    var record = new NatsSpoolRecord(
                        NatsNaming.MsgId(_instance.Id, _instance.BootId, envelope.Seq),
                        NatsNaming.Subject(_options.SubjectPrefix, _instance.Id, envelope.Category, envelope.Type),
                        envelope.Utf8Json);
                    lock (_lock)
                    {
                        Route(record);
                    }
                }
                Wake();
            }
        }
        catch (Exception ex)
        {
            // Not expected (Route handles disk errors); here so a bug cannot fault the task shutdown awaits.
            LogSinkFailed(_logger, ex);
        }
        finally
        {
            _routerDone = true;
            Wake();
        }
    }

    /// <summary>Memory while publishing keeps up and nothing is spooled; behind the spool otherwise; dropped when it is full.</summary>
    private void Route(NatsSpoolRecord record)
    {
        if (_healthy && _spool.Events == 0 && _memory.Count < MemoryCapacity)
        {
            _memory.Enqueue(record);
        }
        else if (TrySpool(() => _spool.TryAppend(record)))
        {
            Interlocked.Increment(ref _spooledTotal);
        }
        else
        {
            Drop(1);
        }
        UpdateGauges();
    }

    private bool TrySpool(Func<bool> write)
    {
        try
        {
            return write();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Note(ex);
            return false;
        }
    }

    private void Drop(long count)
    {
        Interlocked.Add(ref _dropped, count);
        _stream.CountDropped(count);
    }

    private void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    private async Task PublishLoopAsync()
    {
        var backoff = FirstRetryWait;
        var finish = _finish.Token;
        var ackTimeout = CancellationTokenSource.CreateLinkedTokenSource(finish);
        // With retries on the first connect this completes only once a server answered, which may be never: it runs
        // on its own while the loop below waits for it no longer than a retry's pause.
        var connecting = ConnectAsync();
        while (!finish.IsCancellationRequested)
        {
            if (_routerDone && !IsConnected)
            {
                // Shutting down with no server to talk to: the rest goes to the spool at once rather than after the grace.
                break;
            }
            try
            {
                if (!connecting.IsCompleted)
                {
                    await Task.WhenAny(connecting, Task.Delay(backoff, _time, finish)).ConfigureAwait(false);
                    finish.ThrowIfCancellationRequested();
                    if (!connecting.IsCompleted)
                    {
                        backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.ReconnectWaitMax.Ticks));
                        continue;
                    }
                }
                if (!_streamBound)
                {
                    using var timeout = Timeout(finish);
                    _streamBound = await _binder.EnsureAsync(_js, () => IsConnected, timeout.Token).ConfigureAwait(false);
                }
                await FillWindowAsync(finish).ConfigureAwait(false);
                if (_window.Count == 0)
                {
                    if (_routerDone && _intake.Reader.Completion.IsCompleted)
                    {
                        break;
                    }
                    await _wake.WaitAsync(finish).ConfigureAwait(false);
                    continue;
                }
                if (!ackTimeout.TryReset())
                {
                    ackTimeout.Dispose();
                    ackTimeout = CancellationTokenSource.CreateLinkedTokenSource(finish);
                }
                ackTimeout.CancelAfter(_options.AckTimeout);
                if (await AwaitOldestAckAsync(ackTimeout.Token).ConfigureAwait(false))
                {
                    backoff = FirstRetryWait;
                }
            }
            catch (OperationCanceledException) when (finish.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _retried);
                Note(ex);
                // Whatever failed, the stream is looked up again before the retry (cheap, and it covers a server that came
                // back without it); a stream reported missing is also logged again once found or created.
                _streamBound = false;
                if (IsStreamMissing(ex))
                {
                    _binder.Forget();
                }
                await AbandonWindowAsync().ConfigureAwait(false);
                lock (_lock)
                {
                    if (_healthy)
                    {
                        _healthy = false;
                        LogSpooling(_logger, _options.StreamName, ex.Message);
                    }
                    SpoolMemory();
                    UpdateGauges();
                }
                try
                {
                    await Task.Delay(backoff, _time, finish).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.ReconnectWaitMax.Ticks));
            }
        }
        ackTimeout.Dispose();
        // What is still in flight goes back in front (DisposeAsync spools it): its fate is unknown, so it is resent.
        await AbandonWindowAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Sends the oldest waiting records, in order, until <see cref="WindowSize"/> publishes await their acks. Each send
    /// only writes the message to the connection (its ack is awaited later, in order, by <see cref="AwaitOldestAckAsync"/>).
    /// </summary>
    private async Task FillWindowAsync(CancellationToken finish)
    {
        if (_window.Count >= WindowSize)
        {
            return;
        }
        if (!IsConnected)
        {
            // Nothing is written into a connection that is reconnecting: the client would send it on the next one, behind
            // a gap where what the old one lost should be. The window in flight waits for its acks (or times out).
            bool waiting;
            lock (_lock)
            {
                waiting = _memory.Count > 0 || _spool.HasUnread;
            }
            if (_window.Count == 0 && waiting)
            {
                throw new NatsException("The connection to NATS is down (" + _connection.ConnectionState + ")");
            }
            return;
        }
        using var timeout = Timeout(finish);
        while (_window.Count < WindowSize && IsConnected)
        {
            NatsSpoolRecord? record;
            bool fromSpool;
            lock (_lock)
            {
                record = Next(out fromSpool);
                if (record is null)
                {
                    break;
                }
                if (!fromSpool)
                {
                    _inFlightFromMemory++;
                }
                UpdateGauges();
            }
            try
            {
                var future = await _js.PublishConcurrentAsync(record.Subject, record.Payload, NatsRawSerializer<ReadOnlyMemory<byte>>.Default,
                    new NatsJSPubOpts { MsgId = record.MsgId, RetryAttempts = 1 }, cancellationToken: timeout.Token).ConfigureAwait(false);
                _window.Enqueue(new InFlight(record, fromSpool, future, null));
            }
            catch (Exception ex) when (IsRefusedForGood(ex))
            {
                // Never sent; its drop waits for its turn so that spooled records are still committed in order.
                _window.Enqueue(new InFlight(record, fromSpool, null, ex));
            }
            catch
            {
                // Its fate is unknown like that of everything sent before it: resent with them.
                _window.Enqueue(new InFlight(record, fromSpool, null, null));
                throw;
            }
            if (_window.Count > _maxInFlight)
            {
                Interlocked.Exchange(ref _maxInFlight, _window.Count);
            }
        }
    }

    /// <summary>
    /// Waits for the ack of the oldest publish in flight and retires it: committed (or dropped when refused for good).
    /// Anything else (a timeout, a disconnect, an error ack) throws, and the caller resends the whole window. True when
    /// the event was stored.
    /// </summary>
    private async Task<bool> AwaitOldestAckAsync(CancellationToken timeout)
    {
        var oldest = _window.Peek();
        var refused = oldest.Refused;
        if (refused is null)
        {
            if (oldest.Future is null)
            {
                throw new InvalidOperationException("A publish in flight without its ack");
            }
            var ack = await oldest.Future.Value.GetResponseAsync(timeout).ConfigureAwait(false);
            // Not EnsureSuccess: it treats a duplicate as a failure, and a duplicate is the success of a resend
            // (JetStream already holds the copy whose ack was lost).
            if (ack.Error is { } error)
            {
                var api = new NatsJSApiException(error);
                if (!IsRefusedForGood(api))
                {
                    throw api;
                }
                refused = api;
            }
        }
        _window.Dequeue();
        if (oldest.Future is not null)
        {
            await oldest.Future.Value.DisposeAsync().ConfigureAwait(false);
        }
        lock (_lock)
        {
            Retire(oldest);
            if (refused is null && !_healthy)
            {
                _healthy = true;
                LogPublishing(_logger, _options.StreamName);
            }
            UpdateGauges();
        }
        if (refused is not null)
        {
            // Sending it again would be refused again and hold up everything behind it: it is lost, and counted.
            Note(refused);
            LogRefused(_logger, oldest.Record.MsgId, refused.Message);
            Drop(1);
            return false;
        }
        Interlocked.Increment(ref _published);
        return true;
    }

    private void Retire(InFlight done)
    {
        if (done.FromSpool)
        {
            _spool.Commit();
        }
        else
        {
            _inFlightFromMemory--;
        }
    }

    /// <summary>
    /// Gives up on every publish in flight (a send or an ack failed, or the sink stops): their acks are no longer
    /// awaited, and their records become the oldest waiting ones again, in their order, to be resent.
    /// </summary>
    /// <remarks>
    /// Why the stream stays in seq order: one connection hands its messages to the server in the order they were
    /// written, and the window writes them in seq order, so the server stores a prefix of the window (everything up to
    /// where the connection broke or the ack timed out) and never a later event without the earlier ones. The only way
    /// for event k to be missing while k+1 is stored is a refusal of k itself; a refusal for good (too large, a bad
    /// request) is retired in its turn as a counted drop and k+1's ack is awaited as usual, and any other error ack ends
    /// the window here. Resending from the oldest event not acknowledged then repeats only that stored prefix and what
    /// follows it, in order; the copies the server already holds carry the same Nats-Msg-Id and are dropped by its
    /// duplicate window, so nothing is stored twice. Nothing is sent while the connection is down, so the client does
    /// not carry writes over to the next connection behind a gap the old one left. Two narrow cases remain where k
    /// arrives after k+1, still exactly once: a server that refused k for a reason that did not last (a stream limit
    /// that let k+1 in a moment later), and a connection that broke with k lost on the wire while k+1 was still in the
    /// client's own write buffer (sent on the next connection).
    /// </remarks>
    private async Task AbandonWindowAsync()
    {
        foreach (var inFlight in _window)
        {
            if (inFlight.Future is not null)
            {
                try
                {
                    await inFlight.Future.Value.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Only the subscription that waited for the ack is ending; nothing to act on.
                }
            }
        }
        lock (_lock)
        {
            var resend = _window.Where(f => !f.FromSpool).Select(f => f.Record).ToList();
            _window.Clear();
            _inFlightFromMemory = 0;
            _spool.Rewind();
            if (resend.Count > 0)
            {
                // Memory-held records in flight are older than the memory queue (first in, first out) and than anything
                // spooled (memory takes events only while the spool is empty), so in front of the queue is their place.
                var newer = _memory.ToArray();
                _memory.Clear();
                foreach (var record in resend.Concat(newer))
                {
                    _memory.Enqueue(record);
                }
            }
            UpdateGauges();
        }
    }

    private async Task ConnectAsync()
    {
        try
        {
            await _connection.ConnectAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Note(ex);
        }
    }

    /// <summary>The oldest waiting record: memory holds only events newer than everything spooled.</summary>
    private NatsSpoolRecord? Next(out bool fromSpool)
    {
        if (_memory.TryDequeue(out var record))
        {
            fromSpool = false;
            return record;
        }
        fromSpool = true;
        return _spool.ReadNext();
    }

    /// <summary>
    /// Publishing failed and the window was abandoned: the memory queue goes in front of the spool, so what waits for
    /// NATS waits on disk. Memory only ever holds events older than everything spooled, so in front is their place.
    /// When they do not fit they stay in memory, where they are still sent first.
    /// </summary>
    private void SpoolMemory()
    {
        var held = _memory.ToList();
        if (held.Count == 0 || !TrySpool(() => _spool.Prepend(held)))
        {
            return;
        }
        Interlocked.Add(ref _spooledTotal, held.Count);
        _memory.Clear();
    }

    private CancellationTokenSource Timeout(CancellationToken finish)
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(finish);
        timeout.CancelAfter(_options.AckTimeout);
        return timeout;
    }

    /// <summary>
    /// No stream takes the subject (JetStream answers "no responders", which the client reports as no response once
    /// its own retries are spent), or the stream is reported missing.
    /// </summary>
    private static bool IsStreamMissing(Exception ex) => ex switch
    {
        NatsNoRespondersException => true,
        NatsJSApiException api => api.Error.ErrCode == 10059 || api.Error.Code == 503,
        _ => ex.InnerException is { } inner && IsStreamMissing(inner)
            || ex.GetType().Name is "NatsJSPublishNoResponseException" or "NatsNoRespondersException",
    };

    /// <summary>This very message can never be stored: larger than the server takes, or refused as a bad request.</summary>
    private static bool IsRefusedForGood(Exception ex) =>
        ex is NatsPayloadTooLargeException || ex is NatsJSApiException { Error.Code: 400 or 413 };

    // The text comes from the client or the server and is shown in /health and /telemetry: kept to a sensible length.
    private void Note(Exception ex) =>
        _lastError = new ErrorNote(ex.Message.Length <= MaxErrorChars ? ex.Message : ex.Message[..MaxErrorChars] + "…", _time.GetUtcNow());

    private const int MaxErrorChars = 512;

    private void UpdateGauges()
    {
        Interlocked.Exchange(ref _pending, _memory.Count + _inFlightFromMemory);
        Interlocked.Exchange(ref _spooledBytes, _spool.Bytes);
        Interlocked.Exchange(ref _spooledEvents, _spool.Events);
    }

    /// <summary>
    /// Detaches from the stream, keeps publishing for the shutdown grace, then writes what is left to the spool (what
    /// does not fit is counted as dropped) and closes the connection. Bounded: never waits on NATS beyond the grace.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        // RemoveSink returns once no publish is inside TryEnqueue, so completing the intake cannot lose an event.
        _stream.RemoveSink(this);
        _intake.Writer.TryComplete();
        await _router.ConfigureAwait(false);
        _finish.CancelAfter(_options.ShutdownGrace);
        await _publisher.ConfigureAwait(false);
        lock (_lock)
        {
            // The publisher gave its window back (AbandonWindowAsync): memory holds every event not acknowledged.
            var held = _memory.ToList();
            if (held.Count > 0)
            {
                if (TrySpool(() => _spool.Prepend(held)))
                {
                    Interlocked.Add(ref _spooledTotal, held.Count);
                }
                else
                {
                    Drop(held.Count);
                }
                _memory.Clear();
            }
            UpdateGauges();
            if (_spool.Events > 0)
            {
                LogLeftSpooled(_logger, _spool.Events, _spool.Bytes, _spool.Directory);
            }
            _spool.Dispose();
        }
        try
        {
            await _connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The spool already holds everything; a connection that will not close in time is left behind.
        }
        _finish.Dispose();
    }

    private sealed record ErrorNote(string Text, DateTimeOffset At);

    /// <summary>A record sent and not yet retired: its ack to come, or (never sent) the refusal that drops it.</summary>
    private sealed record InFlight(NatsSpoolRecord Record, bool FromSpool, NatsJSPublishConcurrentFuture? Future, Exception? Refused);

    [LoggerMessage(Level = LogLevel.Information, Message = "Publishing telemetry to NATS stream {Stream}")]
    private static partial void LogPublishing(ILogger logger, string stream);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing to NATS stream {Stream} failed ({Reason}); events wait in the spool until it works again")]
    private static partial void LogSpooling(ILogger logger, string stream, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NATS refused telemetry event {MsgId} for good ({Reason}); it is dropped")]
    private static partial void LogRefused(ILogger logger, string msgId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Events} telemetry events ({Bytes} bytes) wait in the NATS spool {Directory} for the next start")]
    private static partial void LogLeftSpooled(ILogger logger, long events, long bytes, string directory);

    [LoggerMessage(Level = LogLevel.Error, Message = "The NATS telemetry sink's router stopped")]
    private static partial void LogSinkFailed(ILogger logger, Exception exception);
}
