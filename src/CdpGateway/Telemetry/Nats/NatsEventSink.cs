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
/// bounded channel). A router task, woken at most once per <see cref="RouteLinger"/> while events flow, turns each envelope into a <see cref="NatsSpoolRecord"/> and puts it in memory when
/// publishing keeps up, otherwise behind everything in the on-disk <see cref="NatsSpool"/> (a full spool drops the event
/// and counts it). A publisher task sends the oldest records in order over its own <see cref="NatsPublishConnection"/>,
/// up to <see cref="WindowSize"/> of them before their acks arrive (all it has in one socket write), and retires them
/// in order as their acks come (all those of one socket read at once): memory holds only events older than
/// anything spooled, a record stays the publisher's until JetStream acknowledged it, and the spool lets go only of its
/// acknowledged prefix. A failure (a timeout, a disconnect, an error ack) gives the whole window back and resends it
/// from the oldest unacknowledged record, which keeps the stream in seq order (see <see cref="AbandonWindow"/>).
/// While NATS is away the waiting events go in front of the spool, so they wait on disk; when the stream is gone (a
/// server whose store was wiped) it is created again and the unacknowledged events resent.
/// </remarks>
public sealed partial class NatsEventSink : IEventSink, IAsyncDisposable
{
    /// <summary>Envelopes handed over but not yet routed; beyond it the stream counts a drop (a stalled disk).</summary>
    public const int QueueCapacity = 65536;

    /// <summary>Events held in memory in front of the publisher while it keeps up; beyond it they go to the spool.</summary>
    public const int MemoryCapacity = 16384;

    /// <summary>
    /// Publishes sent whose acks are still awaited, at most: enough that the round trip to JetStream does not pace the
    /// sink, few enough that a failure resends little.
    /// </summary>
    public const int WindowSize = 4096;

    /// <summary>
    /// How long the router lets events gather after it handled some: events come in bursts (a command worker's batch),
    /// and waking the router and the publisher once per burst rather than once per event is most of what shipping costs.
    /// </summary>
    public static readonly TimeSpan RouteLinger = TimeSpan.FromMilliseconds(20);

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
    private readonly NatsStreamBinder _binder;
    private readonly string _msgIdPrefix;
    private readonly Dictionary<(string Category, string Type), string> _subjects = [];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _finish = new();
    private readonly Task _router;
    private readonly Task _publisher;

    // The publisher's alone: publishes sent and awaiting their acks. The one with ack id N is in slot N % WindowSize; ids
    // _oldestAck up to _nextAck are in flight, oldest first.
    private readonly InFlight[] _window = new InFlight[WindowSize];
    private long _oldestAck;
    private long _nextAck;
    private NatsPublishConnection? _publish;
    private int _serverIndex;

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
        _msgIdPrefix = NatsNaming.MsgIdPrefix(instance.Id, instance.BootId);
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

    private static readonly TimeSpan LookUpConnectTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a look-up of the stream may take in all: connecting, then up to two requests (look up, create) of up to
    /// an ack timeout each, and one ack timeout to spare. A request the server denies gets no answer, so it ends in the
    /// client's own request timeout, which the binder takes as a refusal and goes on from; were this budget no longer
    /// than that timeout, it would end the look-up first, and a gateway whose user may not look streams up or create
    /// them would never publish at all.
    /// </summary>
    private TimeSpan LookUpBudget => LookUpConnectTimeout + 3 * _options.AckTimeout;

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
            // The client sends a creds file's JWT and signature but not its public key, which a server with NKey users
            // (no operator) looks the user up by; the publishing connection sends all three, and so must this one.
            NKey = CredsPublicKey(options.CredsFile),
        },
        TlsOpts = options.UsesTls ? new NatsTlsOpts { CaFile = options.CaFile, Mode = TlsMode.Require } : new NatsTlsOpts(),
        // One connection per look-up of the stream, paced by the sink's own back-off: the client's reconnecting would try
        // again at once each time a server broke a connection it had let in.
        RetryOnInitialConnect = false,
        MaxReconnectRetry = 0,
        ConnectTimeout = LookUpConnectTimeout,
        RequestTimeout = options.AckTimeout,
        // The client's own log lines would name URLs and retries per attempt; the sink logs state changes itself.
        LoggerFactory = NullLoggerFactory.Instance,
    };

    /// <summary>The public NKey of a creds file's seed; null without one, or when the file is unreadable (the publishing connection says why).</summary>
    private static string? CredsPublicKey(string? credsFile)
    {
        if (credsFile is not { Length: > 0 })
        {
            return null;
        }
        try
        {
            using var pair = NATS.NKeys.KeyPair.FromSeed(NatsCredentials.ReadCredsFile(credsFile).Seed);
            return pair.GetPublicKey();
        }
        catch (Exception)
        {
            return null;
        }
    }

    /// <summary>1 while the publishing connection to a NATS server is open, else 0 (a gauge's value).</summary>
    public long Connected => _publish is { IsOpen: true } ? 1 : 0;

    private int WindowCount => (int)(_nextAck - _oldestAck);

    private bool IsConnected => Connected == 1;

    /// <summary>Events held in memory (queued or in flight).</summary>
    public long Pending => Interlocked.Read(ref _pending) + _intake.Reader.Count;

    public long SpooledBytes => Interlocked.Read(ref _spooledBytes);

    public long SpooledEvents => Interlocked.Read(ref _spooledEvents);

    public long Published => Interlocked.Read(ref _published);

    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>Events ever written to the spool.</summary>
    public long Spooled => Interlocked.Read(ref _spooledTotal);

    /// <summary>Events lost: the spool or the intake queue was full, or the server refused one for good. Each is in the stream's dropped events too.</summary>
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
                lock (_lock)
                {
                    while (reader.TryRead(out var envelope))
                    {
                        Route(new NatsSpoolRecord(NatsNaming.MsgId(_msgIdPrefix, envelope.Seq), Subject(envelope), envelope.Utf8Json));
                    }
                    UpdateGauges();
                }
                Wake();
                await Task.Delay(RouteLinger, _time).ConfigureAwait(false);
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

    /// <summary>
    /// The envelope's subject, made once per category and type (a fixed set in the gateway's code; the cache stops
    /// growing at <see cref="MaxCachedSubjects"/> all the same). The router's alone.
    /// </summary>
    private string Subject(EventEnvelope envelope)
    {
        var key = (envelope.Category, envelope.Type);
        if (!_subjects.TryGetValue(key, out var subject))
        {
            subject = NatsNaming.Subject(_options.SubjectPrefix, _instance.Id, envelope.Category, envelope.Type);
            if (_subjects.Count < MaxCachedSubjects)
            {
                _subjects.Add(key, subject);
            }
        }
        return subject;
    }

    private const int MaxCachedSubjects = 1024;

    /// <summary>Memory while publishing keeps up and nothing is spooled; behind the spool otherwise; dropped when it is full.</summary>
    private void Route(NatsSpoolRecord record)
    {
        if (_healthy && _spool.Events == 0 && _memory.Count < MemoryCapacity)
        {
            _memory.Enqueue(record);
        }
        else if (TrySpool(record, static (spool, one) => spool.TryAppend(one)))
        {
            Interlocked.Increment(ref _spooledTotal);
        }
        else
        {
            Drop(1);
        }
    }

    private bool TrySpool<T>(T state, Func<NatsSpool, T, bool> write)
    {
        try
        {
            return write(_spool, state);
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

    /// <summary>
    /// Acks arrived (up to <paramref name="highest"/>) or the connection closed: the publisher is woken only when the
    /// whole window is answered, so a window's acks, which come over several socket reads, cost it one wake-up. A
    /// window with acks still missing is looked at again on its next wake-up (new events) or its ack timeout.
    /// </summary>
    private void OnAcks(long highest)
    {
        if (highest >= Volatile.Read(ref _nextAck) - 1)
        {
            Wake();
        }
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
        while (!finish.IsCancellationRequested)
        {
            if (_routerDone && !IsConnected)
            {
                // Shutting down with no server to talk to: the rest goes to the spool at once rather than after the grace.
                break;
            }
            try
            {
                if (_publish is not { IsOpen: true })
                {
                    await OpenPublishConnectionAsync(finish).ConfigureAwait(false);
                }
                if (!_streamBound)
                {
                    _streamBound = await BindStreamAsync(finish).ConfigureAwait(false);
                }
                if (RetireAnswered())
                {
                    backoff = FirstRetryWait;
                }
                if (_publish is { IsOpen: false } closed)
                {
                    throw new NatsException("The connection to NATS closed (" + closed.ClosedReason + ")");
                }
                await FillWindowAsync(finish).ConfigureAwait(false);
                if (WindowCount == 0)
                {
                    if (_routerDone && _intake.Reader.Completion.IsCompleted)
                    {
                        break;
                    }
                    await _wake.WaitAsync(finish).ConfigureAwait(false);
                    continue;
                }
                var left = _options.AckTimeout - _time.GetElapsedTime(_window[_oldestAck % WindowSize].SentAt);
                if (left <= TimeSpan.Zero)
                {
                    // A publish the server refused for want of permission gets no ack; its -ERR is the reason to show.
                    throw new TimeoutException("JetStream did not acknowledge a publish within " + _options.AckTimeout.TotalSeconds + " s"
                        + (_publish?.LastServerError is { } serverError ? " (the server said: " + serverError + ")" : ""));
                }
                await _wake.WaitAsync(left, finish).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (finish.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                bool waiting;
                lock (_lock)
                {
                    waiting = WindowCount > 0 || _memory.Count > 0 || _spool.HasUnread;
                }
                if (waiting)
                {
                    Interlocked.Increment(ref _retried);
                }
                Note(ex);
                // Whatever failed, the stream is looked up again before the retry (cheap, and it covers a server that came
                // back without it); a stream reported missing is also logged again once found or created.
                _streamBound = false;
                if (IsStreamMissing(ex))
                {
                    _binder.Forget();
                }
                AbandonWindow();
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
        // What is still in flight goes back in front (DisposeAsync spools it): its fate is unknown, so it is resent.
        AbandonWindow();
        if (_publish is { } last)
        {
            await last.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A new publishing connection, to the next server of the list after a failure. Nothing is in flight here: a
    /// connection that closed with publishes in flight went through the failure path, which gave them back.
    /// </summary>
    private async Task OpenPublishConnectionAsync(CancellationToken finish)
    {
        if (_publish is { } old)
        {
            _publish = null;
            _serverIndex++;
            await old.DisposeAsync().ConfigureAwait(false);
        }
        using var timeout = Timeout(finish);
        _publish = await NatsPublishConnection.OpenAsync(_options, "cdp-gateway " + _instance.Id, _serverIndex, OnAcks, timeout.Token)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Sends the oldest waiting records, in order, until <see cref="WindowSize"/> publishes await their acks, all in one
    /// socket write. Their acks are matched by <see cref="RetireAnswered"/>.
    /// </summary>
    private async Task FillWindowAsync(CancellationToken finish)
    {
        var connection = _publish!;
        long first = _nextAck;
        long sentAt = _time.GetTimestamp();
        lock (_lock)
        {
            while (WindowCount < WindowSize)
            {
                var record = Next(out bool fromSpool);
                if (record is null)
                {
                    break;
                }
                if (!fromSpool)
                {
                    _inFlightFromMemory++;
                }
                _window[_nextAck % WindowSize] = new InFlight(record, fromSpool, sentAt);
                _nextAck++;
            }
            if (_nextAck != first)
            {
                UpdateGauges();
            }
        }
        if (_nextAck == first)
        {
            return;
        }
        for (long id = first; id < _nextAck; id++)
        {
            ref var slot = ref _window[id % WindowSize];
            if (NatsPublishConnection.MessageBytes(slot.Record) > connection.MaxPayload)
            {
                // Never sent; its drop waits for its turn so that spooled records are still committed in order.
                slot.Refused = new NatsPayloadTooLargeException("The event is larger than the server's max_payload of " + connection.MaxPayload + " bytes");
            }
            else
            {
                connection.Add(slot.Record, id);
            }
        }
        if (WindowCount > _maxInFlight)
        {
            Interlocked.Exchange(ref _maxInFlight, WindowCount);
        }
        using var timeout = Timeout(finish);
        await connection.FlushAsync(timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Matches the acks that arrived to their publishes and retires the answered prefix of the window in order:
    /// committed, or dropped when refused for good. An error ack for the oldest (anything but a refusal for good)
    /// throws, and the caller resends the whole window. True when an event was stored.
    /// </summary>
    private bool RetireAnswered()
    {
        if (_publish is { } connection)
        {
            foreach (var ack in connection.TakeAcks())
            {
                if (ack.Id >= _oldestAck && ack.Id < _nextAck)
                {
                    ref var slot = ref _window[ack.Id % WindowSize];
                    slot.Answered = true;
                    slot.Ack = ack;
                }
            }
        }
        int fromSpool = 0;
        int fromMemory = 0;
        int stored = 0;
        try
        {
            while (WindowCount > 0)
            {
                ref var oldest = ref _window[_oldestAck % WindowSize];
                var refused = oldest.Refused;
                if (refused is null)
                {
                    if (!oldest.Answered)
                    {
                        break;
                    }
                    // A duplicate is the success of a resend: JetStream already holds the copy whose ack was lost.
                    if (oldest.Ack.Error is { } error)
                    {
                        var api = new NatsJSApiException(error);
                        if (!IsRefusedForGood(api))
                        {
                            throw api;
                        }
                        refused = api;
                    }
                    else if (!oldest.Ack.Stored)
                    {
                        throw new NatsException("The reply to a publish was neither a JetStream ack nor an error");
                    }
                }
                var record = oldest.Record;
                if (oldest.FromSpool)
                {
                    fromSpool++;
                }
                else
                {
                    fromMemory++;
                }
                oldest = default;
                _oldestAck++;
                if (refused is null)
                {
                    stored++;
                    continue;
                }
                // Sending it again would be refused again and hold up everything behind it: it is lost, and counted.
                Note(refused);
                LogRefused(_logger, record.MsgId, refused.Message);
                Drop(1);
            }
        }
        finally
        {
            if (fromSpool + fromMemory > 0)
            {
                lock (_lock)
                {
                    for (int i = 0; i < fromSpool; i++)
                    {
                        _spool.Commit();
                    }
                    _inFlightFromMemory -= fromMemory;
                    if (stored > 0 && !_healthy)
                    {
                        _healthy = true;
                        LogPublishing(_logger, _options.StreamName);
                    }
                    UpdateGauges();
                }
                Interlocked.Add(ref _published, stored);
            }
        }
        return stored > 0;
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
    /// duplicate window, so nothing is stored twice. A broken connection is never written to again (the next one is
    /// new and starts with the oldest unacknowledged event), so no write is carried over behind a gap. One narrow case
    /// remains where k arrives after k+1, still exactly once: a server that refused k for a reason that did not last (a
    /// stream limit that let k+1 in a moment later).
    /// </remarks>
    private void AbandonWindow()
    {
        lock (_lock)
        {
            var resend = new List<NatsSpoolRecord>();
            for (long id = _oldestAck; id < _nextAck; id++)
            {
                ref var slot = ref _window[id % WindowSize];
                if (!slot.FromSpool)
                {
                    resend.Add(slot.Record);
                }
                slot = default;
            }
            _oldestAck = _nextAck;
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

    /// <summary>
    /// Finds or creates the stream over a connection of the client library's, opened for that alone and closed after
    /// (its failure takes the sink's failure path, and so its back-off).
    /// </summary>
    private async Task<bool> BindStreamAsync(CancellationToken finish)
    {
        using var timeout = Timeout(finish, LookUpBudget);
        var management = new NatsConnection(ConnectionOptions(_options, _instance));
        // A connection that breaks ends the look-up at once: the client would otherwise reconnect straight away, and
        // again each time a server broke a connection it had let in.
        var lost = false;
        management.ConnectionDisconnected += (_, _) =>
        {
            lost = true;
            CancelQuietly(timeout);
            return ValueTask.CompletedTask;
        };
        try
        {
            await management.ConnectAsync().AsTask().WaitAsync(timeout.Token).ConfigureAwait(false);
            return await _binder.EnsureAsync(new NatsJSContext(management), () => management.ConnectionState == NatsConnectionState.Open, timeout.Token)
                .ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!finish.IsCancellationRequested)
        {
            throw new NatsException(lost
                ? "The connection to NATS broke while the stream was looked up"
                : "NATS did not answer the stream look-up within " + LookUpBudget.TotalSeconds + " s");
        }
        finally
        {
            await CloseAsync(management).ConfigureAwait(false);
        }
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The look-up ended already.
        }
    }

    private static async Task CloseAsync(NatsConnection connection)
    {
        try
        {
            await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Nothing waits on it: a connection that will not close in time is left behind.
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
        if (held.Count == 0 || !TrySpool(held, static (spool, records) => spool.Prepend(records)))
        {
            return;
        }
        Interlocked.Add(ref _spooledTotal, held.Count);
        _memory.Clear();
    }

    private CancellationTokenSource Timeout(CancellationToken finish) => Timeout(finish, _options.AckTimeout);

    private static CancellationTokenSource Timeout(CancellationToken finish, TimeSpan after)
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(finish);
        timeout.CancelAfter(after);
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
            // The publisher gave its window back (AbandonWindow): memory holds every event not acknowledged.
            var held = _memory.ToList();
            if (held.Count > 0)
            {
                if (TrySpool(held, static (spool, records) => spool.Prepend(records)))
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
        _finish.Dispose();
    }

    private sealed record ErrorNote(string Text, DateTimeOffset At);

    /// <summary>A record sent and not yet retired: its ack once it came, or (never sent) the refusal that drops it.</summary>
    private struct InFlight(NatsSpoolRecord record, bool fromSpool, long sentAt)
    {
        public NatsSpoolRecord Record = record;
        public bool FromSpool = fromSpool;
        public long SentAt = sentAt;
        public Exception? Refused;
        public bool Answered;
        public NatsPubAck Ack;
    }

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
