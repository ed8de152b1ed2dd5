using System.Buffers;
using System.Runtime.InteropServices;
using static CdpGateway.Proxy.Epoll.LinuxSockets;

namespace CdpGateway.Proxy.Epoll;

/// <summary>
/// One direction of a connection on an <see cref="EpollLoop"/>: what <see cref="WebSocketFrameRelay.CopyAsync"/>
/// does, driven by readiness instead of awaits. Each read goes through the loop's buffer and is written on at once;
/// only bytes the destination does not take right away are copied (into a pooled array), and reading stops until
/// they are out. An unfinished frame header at the end of a read is carried to the next one.
/// </summary>
internal sealed unsafe class EpollRelayDirection
{
    private readonly WebSocketLeg _source;
    private readonly WebSocketLeg _destination;
    private readonly int _sourceFd;
    private readonly int _destinationFd;
    private readonly RelayCounters _counters;
    private readonly WebSocketFrameRelay.Options _options;
    private readonly bool _observing;
    private readonly TaskCompletionSource<RelayOutcome> _done;

    private FrameCursor _cursor;
    private FrameCursor _sentCursor;
    private WebSocketFrameRelay.Observed _observed;

    // The bytes of the last read past what could be forwarded: an unfinished header, or what follows a stop. Made when
    // first needed: most connections never split a header across reads.
    private byte[] _carry = [];
    private int _carryLength;

    // What the source leg had already read (the handshake's leftovers, the dial-time watch's bytes).
    private byte[]? _held;
    private int _heldOffset;

    private byte[]? _unsent;
    private int _unsentLength;
    private int _unsentOffset;
    private WebSocketFrameRelay.Scanned _unsentScanned;
    private WebSocketFrameRelay.Stop _unsentStop;
    private RelayOutcome _outcome;
    private bool _published;

    public EpollRelayDirection(WebSocketLeg source, WebSocketLeg destination, int sourceFd, int destinationFd, RelayCounters counters,
        WebSocketFrameRelay.Options options)
    {
        _source = source;
        _destination = destination;
        _sourceFd = sourceFd;
        _destinationFd = destinationFd;
        _counters = counters;
        _options = options;
        _observing = options.Tap is not null || options.Logging is not null;
        // The handler's teardown goes on on the loop's thread when its sockets say so (the gateway's own upgrade path):
        // Publish runs once the connection's registrations are settled, so what the handler does then (shut a leg down,
        // close a socket) reaches the relay as it would from any other thread.
        _done = new(source.LoopSocket?.InlineContinuations == true ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
        _cursor = source.Cursor;
        _sentCursor = _cursor;
        var held = source.TakeUnread();
        _held = held.Length > 0 ? held : null;
    }

    public Task<RelayOutcome> Done => _done.Task;

    public bool Ended { get; private set; }

    /// <summary>It may read: not ended, nothing unsent.</summary>
    public bool MayRead => !Ended && _unsent is null;

    public bool HasUnsent => !Ended && _unsent is not null;

    /// <summary>Forwards what the source leg already held, as far as the destination takes it.</summary>
    public void ReadHeld(byte[] buffer)
    {
        while (MayRead && _held is not null)
        {
            ReadOnce(buffer);
        }
    }

    public void OnReadable(byte[] buffer)
    {
        ReadOnce(buffer);
        ReadHeld(buffer);
    }

    public void OnWritable(byte[] buffer)
    {
        nint sent;
        fixed (byte* unsent = _unsent)
        {
            sent = Send(_destinationFd, unsent + _unsentOffset, _unsentLength - _unsentOffset, MSG_NOSIGNAL);
        }
        if (sent < 0)
        {
            if (Marshal.GetLastPInvokeError() is not (EAGAIN or EINTR) and var errno)
            {
                DestinationFailed(errno);
            }
            return;
        }
        _unsentOffset += (int)sent;
        if (_unsentOffset < _unsentLength)
        {
            return;
        }
        var unsentBytes = _unsent!;
        _unsent = null;
        Forwarded(unsentBytes.AsSpan(0, _unsentLength), _unsentScanned);
        ArrayPool<byte>.Shared.Return(unsentBytes);
        AfterForward(_unsentStop, _unsentScanned);
        ReadHeld(buffer);
    }

    private bool Finishing => _options.Finish is { Requested: true };

    /// <summary>
    /// With a finish requested: ends the direction when what it wrote stands at a frame boundary (nothing unsent, no
    /// frame begun). Otherwise the frame in flight goes on, and the read that completes it ends the direction.
    /// </summary>
    public void FinishIfAtBoundary()
    {
        if (!Ended && _unsent is null && _cursor.Remaining == 0 && Finishing)
        {
            End(WebSocketFrameRelay.Ending(WebSocketFrameRelay.Stop.Finished, _source, _cursor, _carry.AsSpan(0, _carryLength), default)!.Value);
        }
    }

    /// <summary>Ends the direction as a failed read (a fault of ours, or a socket closed under the relay).</summary>
    public void Fault(Exception? error = null)
    {
        End(WebSocketFrameRelay.Failed(_source, error));
    }

    /// <summary>The destination was closed under the relay: ends as a failed write.</summary>
    public void DestinationClosed()
    {
        if (!Ended)
        {
            DestinationFailed(0);
        }
    }

    private void ReadOnce(byte[] buffer)
    {
        int filled = _carryLength;
        _carry.AsSpan(0, filled).CopyTo(buffer);
        int read;
        if (_held is { } held)
        {
            read = Math.Min(held.Length - _heldOffset, buffer.Length - filled);
            held.AsSpan(_heldOffset, read).CopyTo(buffer.AsSpan(filled));
            _heldOffset += read;
            if (_heldOffset == held.Length)
            {
                _held = null;
            }
        }
        else
        {
            var room = buffer.Length - filled;
            if (Finishing && _cursor.Remaining > 0)
            {
                // Only the rest of the frame in flight is wanted.
                room = (int)Math.Min(room, _cursor.Remaining);
            }
            nint received;
            fixed (byte* start = buffer)
            {
                received = Recv(_sourceFd, start + filled, room, 0);
            }
            var errno = received < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (errno is EAGAIN or EINTR)
            {
                return;
            }
            if (received <= 0)
            {
                // End of stream without a close frame, or a reset.
                End(WebSocketFrameRelay.Failed(_source, errno: errno));
                return;
            }
            read = (int)received;
        }
        filled += read;

        var data = buffer.AsSpan(0, filled);
        var scanned = default(WebSocketFrameRelay.Scanned);
        var stop = WebSocketFrameRelay.Scan(ref _cursor, data, _options.MaxMessageBytes, Finishing, ref scanned);
        Carry(data[scanned.End..]);
        if (scanned.End > 0)
        {
            _counters.BeginForward();
            nint sent;
            fixed (byte* start = buffer)
            {
                sent = Send(_destinationFd, start, scanned.End, MSG_NOSIGNAL);
            }
            if (sent < 0)
            {
                if (Marshal.GetLastPInvokeError() is not (EAGAIN or EINTR) and var errno)
                {
                    DestinationFailed(errno);
                    return;
                }
                sent = 0;
            }
            if (sent < scanned.End)
            {
                // The destination is not keeping up: keep the rest and stop reading until it is out.
                _unsent = ArrayPool<byte>.Shared.Rent(scanned.End);
                data[..scanned.End].CopyTo(_unsent);
                _unsentLength = scanned.End;
                _unsentOffset = (int)sent;
                _unsentScanned = scanned;
                _unsentStop = stop;
                return;
            }
            Forwarded(data[..scanned.End], scanned);
        }
        AfterForward(stop, scanned);
    }

    private void Carry(ReadOnlySpan<byte> rest)
    {
        if (rest.Length > _carry.Length)
        {
            _carry = new byte[Math.Max(rest.Length, 256)];
        }
        rest.CopyTo(_carry);
        _carryLength = rest.Length;
    }

    private void Forwarded(Span<byte> sent, in WebSocketFrameRelay.Scanned scanned)
    {
        _counters.EndForward(scanned.PayloadBytes, scanned.Messages);
        if (_observing)
        {
            WebSocketFrameRelay.Observe(ref _sentCursor, ref _observed, sent, _options);
        }
        _sentCursor = _cursor;
    }

    private void AfterForward(WebSocketFrameRelay.Stop stop, in WebSocketFrameRelay.Scanned scanned)
    {
        if (stop == WebSocketFrameRelay.Stop.None)
        {
            return;
        }
        var rest = _carry.AsSpan(0, _carryLength);
        End(WebSocketFrameRelay.Ending(stop, _source, _cursor, rest, scanned)!.Value);
    }

    private void DestinationFailed(int errno)
    {
        _counters.ForwardFailed();
        _destination.Failed();
        var rest = _carry.AsSpan(0, _carryLength);
        if (_held is { } held)
        {
            // What the source leg held and was not read yet stays its unread bytes too.
            var all = new byte[rest.Length + held.Length - _heldOffset];
            rest.CopyTo(all);
            held.AsSpan(_heldOffset).CopyTo(all.AsSpan(rest.Length));
            _held = null;
            _source.Park(_cursor, all);
        }
        else
        {
            _source.Park(_cursor, rest);
        }
        End(new RelayOutcome(RelayEnd.DestinationFailed) { Errno = errno });
    }

    private void End(RelayOutcome outcome)
    {
        if (Ended)
        {
            return;
        }
        Ended = true;
        if ((_unsent is not null && _unsentOffset > 0) || _sentCursor.Remaining > 0)
        {
            // The destination got part of a frame that will never be finished: no close frame may follow it.
            _destination.WritesEndedMidFrame();
        }
        if (_unsent is { } unsent)
        {
            _unsent = null;
            ArrayPool<byte>.Shared.Return(unsent);
        }
        if (_observed.Tapped)
        {
            _options.Tap!.Abandon();
        }
        _outcome = outcome;
    }

    /// <summary>After the sockets' registrations were updated: completes the task once the direction has ended.</summary>
    public void Publish()
    {
        if (Ended && !_published)
        {
            _published = true;
            _done.TrySetResult(_outcome);
        }
    }
}
