using System.Threading.Channels;

namespace CdpGateway.Api.LiveView;

/// <summary>One message for a viewer's WebSocket: a text (JSON) or binary (frame) message, never changed once made.</summary>
public readonly record struct ViewerMessage(bool Binary, ReadOnlyMemory<byte> Data);

/// <summary>
/// One watcher of one page. What the screencast hands it waits here until its WebSocket takes it: frames latest-wins
/// (a slow viewer skips frames, counted in <see cref="FramesDropped"/>), input marks in a small queue that drops its
/// oldest when full. Offering never blocks, so one slow viewer holds up neither the others nor the session.
/// </summary>
public sealed class LiveViewer
{
    private const int InputQueueCapacity = 64;

    private readonly Channel<ViewerMessage> _input;
    // A doorbell: one pending ring is enough, the reader drains everything each time it wakes.
    private readonly Channel<bool> _ring = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });
    private ViewerMessage? _frame;
    private long _framesDropped;
    private long _inputDropped;
    private volatile string? _endReason;

    public LiveViewer(string targetId)
    {
        TargetId = targetId;
        _input = Channel.CreateBounded<ViewerMessage>(new BoundedChannelOptions(InputQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        }, _ => Interlocked.Increment(ref _inputDropped));
    }

    public string TargetId { get; }

    /// <summary>Frames replaced before this viewer took them.</summary>
    public long FramesDropped => Interlocked.Read(ref _framesDropped);

    /// <summary>Input marks dropped because this viewer's queue was full.</summary>
    public long InputDropped => Interlocked.Read(ref _inputDropped);

    /// <summary>Why the screencast ended for this viewer (null while it runs).</summary>
    public string? EndReason => _endReason;

    internal void OfferFrame(ViewerMessage frame)
    {
        ViewerMessage? replaced;
        lock (_ring)
        {
            replaced = _frame;
            _frame = frame;
        }
        if (replaced is not null)
        {
            Interlocked.Increment(ref _framesDropped);
        }
        _ring.Writer.TryWrite(true);
    }

    internal void OfferInput(ViewerMessage mark)
    {
        _input.Writer.TryWrite(mark);
        _ring.Writer.TryWrite(true);
    }

    /// <summary>Ends the stream: the reader gets what is queued, then <see cref="NextBatchAsync"/> returns an empty batch.</summary>
    internal void End(string reason)
    {
        _endReason ??= reason;
        _ring.Writer.TryComplete();
    }

    /// <summary>
    /// Waits for something to send and returns it: queued input marks first (they are older than the newest frame),
    /// then the latest frame. Empty once the stream ended.
    /// </summary>
    public async ValueTask<IReadOnlyList<ViewerMessage>> NextBatchAsync(CancellationToken cancellationToken)
    {
        var batch = new List<ViewerMessage>();
        while (batch.Count == 0)
        {
            if (!await _ring.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return batch;
            }
            _ring.Reader.TryRead(out _);
            while (_input.Reader.TryRead(out var mark))
            {
                batch.Add(mark);
            }
            lock (_ring)
            {
                if (_frame is { } frame)
                {
                    batch.Add(frame);
                    _frame = null;
                }
            }
        }
        return batch;
    }
}
