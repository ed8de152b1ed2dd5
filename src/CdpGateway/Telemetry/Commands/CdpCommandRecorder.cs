using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
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
public sealed class CdpCommandRecorder : IMessageTap
{
    public const int QueueFrames = 256;
    public const long QueueBytes = 8L * 1024 * 1024;

    private readonly string _connectionId;
    private readonly TelemetryConfig _config;
    private readonly IEventPublisher _publisher;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<PendingCommand> _queue;
    private Task? _worker;
    private long _queuedBytes;
    private long _dropped;
    private long _excluded;
    private bool _closed;
    private int _inFlight;
    private int _drainGaveUp;

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
        _time = time;
        _logger = logger;
        _queue = Channel.CreateBounded<PendingCommand>(new BoundedChannelOptions(QueueFrames)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full; nothing ever waits
        });
    }

    /// <summary>Commands lost: queue full, malformed, publisher failure, or arriving after teardown.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Reported methods the operator excluded, counted apart from losses.</summary>
    public long Excluded => Interlocked.Read(ref _excluded);

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
        _capture = ArrayPool<byte>.Shared.Rent(Math.Max(firstChunk.Length, 1024));
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
                ArrayPool<byte>.Shared.Return(buffer);
                return;
            }
            if (IsExcluded(method))
            {
                ArrayPool<byte>.Shared.Return(buffer);
                return;
            }
        }
        if (_captureOverBudget)
        {
            Interlocked.Increment(ref _dropped);
            ArrayPool<byte>.Shared.Return(buffer);
            return;
        }
        Enqueue(new PendingCommand(buffer, _captureLength, method, timestamp));
    }

    public void Abandon()
    {
        if (_capture is not null)
        {
            ArrayPool<byte>.Shared.Return(_capture);
            _capture = null;
        }
    }

    /// <summary>
    /// Stops taking commands and lets the worker publish what is queued, for up to <paramref name="wait"/>,
    /// so the last commands precede <c>cdp_disconnect</c>; whatever is left then counts as dropped.
    /// </summary>
    public async Task DrainAsync(TimeSpan wait)
    {
        Volatile.Write(ref _closed, true);
        _queue.Writer.TryComplete();
        if (_worker is { } worker)
        {
            await worker.WaitAsync(wait, _time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!worker.IsCompleted)
            {
                // The publisher is stuck on a command: by the disconnect it has not been published.
                Volatile.Write(ref _drainGaveUp, 1);
                if (Volatile.Read(ref _inFlight) == 1)
                {
                    Interlocked.Increment(ref _dropped);
                }
            }
        }
        // Whatever the worker did not reach is lost; it stops at the next item.
        while (_queue.Reader.TryRead(out var left))
        {
            Interlocked.Increment(ref _dropped);
            Release(left);
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
        if (Volatile.Read(ref _closed))
        {
            Interlocked.Increment(ref _dropped);
            ArrayPool<byte>.Shared.Return(command.Buffer);
            return;
        }
        if (Interlocked.Add(ref _queuedBytes, command.Length) > QueueBytes || !_queue.Writer.TryWrite(command))
        {
            Interlocked.Increment(ref _dropped);
            Release(command);
            return;
        }
        _worker ??= Task.Run(WorkAsync);
    }

    private async Task WorkAsync()
    {
        await foreach (var command in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (Volatile.Read(ref _drainGaveUp) == 1)
            {
                // Too late to precede the disconnect: a loss, like anything the drain takes back.
                Interlocked.Increment(ref _dropped);
                Release(command);
                continue;
            }
            Volatile.Write(ref _inFlight, 1);
            try
            {
                var result = CdpCommandClassifier.Classify(command.Buffer.AsSpan(0, command.Length), command.Method, _connectionId);
                if (result.IsReported)
                {
                    var at = _time.GetUtcNow() - _time.GetElapsedTime(command.Timestamp);
                    _publisher.PublishCommand(result.Data!, at);
                }
                else if (result.IsMalformed)
                {
                    Interlocked.Increment(ref _dropped);
                }
            }
            catch (Exception ex)
            {
                // A throwing publisher costs this one event, never the connection.
                if (Volatile.Read(ref _drainGaveUp) == 0)
                {
                    Interlocked.Increment(ref _dropped);
                }
                _logger.LogWarning(ex, "cdp_command for connection {ConnectionId} was lost", _connectionId);
            }
            finally
            {
                Volatile.Write(ref _inFlight, 0);
                Release(command);
            }
        }
    }

    private void Release(PendingCommand command)
    {
        Interlocked.Add(ref _queuedBytes, -command.Length);
        ArrayPool<byte>.Shared.Return(command.Buffer);
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
                    return reader.TokenType == JsonTokenType.String && CdpMethods.TryParse(reader.GetString()!, out method)
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
