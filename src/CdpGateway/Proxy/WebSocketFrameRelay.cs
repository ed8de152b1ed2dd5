using System.Buffers;
using System.Runtime.CompilerServices;

namespace CdpGateway.Proxy;

/// <summary>
/// Forwards one direction of a WebSocket connection frame by frame, bytes unchanged: a client's
/// frames keep their mask (valid as they are for Chromium), Chromium's unmasked frames are valid for
/// the client. Frame headers are parsed as the bytes stream through, to check the protocol, count
/// messages, enforce the size limit and stop at the close frame (which is not forwarded: the
/// connection handler decides what close each side gets). Whatever one read brought, whole or partial
/// frames, goes out in one write.
/// <para>
/// Between messages it waits with a zero-byte read so an idle connection holds no buffer; while data
/// is in flight it holds one pooled chunk (larger for a large message). No per-message allocation, no
/// locks. It never throws: the outcome says which side ended the direction. Observers (message
/// logging, command telemetry) see the unmasked payload only after it was forwarded.
/// </para>
/// </summary>
public static class WebSocketFrameRelay
{
    /// <summary>Chunk rented from the shared pool while data is in flight.</summary>
    public const int ChunkBytes = 32 * 1024;

    /// <summary>
    /// Chunk for a message whose declared payload does not fit <see cref="ChunkBytes"/>: a large
    /// message then costs a few reads and writes per MiB. Held only while that message is in flight.
    /// </summary>
    public const int LargeChunkBytes = 256 * 1024;

    /// <summary>Optional per-message logging (<c>--log-cdp-messages</c>); null on the normal path.</summary>
    public sealed record MessageLogging(CdpMessageLog Log, string ConnectionId, string Direction);

    /// <summary>What one direction needs besides its two legs.</summary>
    /// <param name="Finish">How the connection asks the direction to end at a frame boundary; null when it never does.</param>
    public sealed record Options(long MaxMessageBytes, TimeProvider Time, MessageLogging? Logging = null, IMessageTap? Tap = null,
        RelayFinish? Finish = null);

    internal enum Stop
    {
        None,
        Closed,
        Violation,
        Oversize,

        /// <summary>At a frame boundary with <see cref="RelayFinish"/> requested.</summary>
        Finished,
    }

    /// <summary>What the observers know about the data message they are being shown.</summary>
    internal struct Observed
    {
        public bool Started;
        public bool Text;
        public bool Tapped;
        public long Bytes;
        public CdpMessageLog.Header Header;
    }

    /// <summary>What the bytes scanned since the last write hold.</summary>
    internal struct Scanned
    {
        public int End;
        public long PayloadBytes;
        public int Messages;

        /// <summary>A message or control frame ended: worth sending now rather than waiting to fill the chunk.</summary>
        public bool Boundary;

        /// <summary>For <see cref="Stop.Violation"/>: what the frame got wrong.</summary>
        public string? Violation;

        /// <summary>For <see cref="Stop.Oversize"/>: the message's payload with the frame that broke the limit.</summary>
        public long OversizeBytes;
    }

    public static async Task<RelayOutcome> CopyAsync(WebSocketLeg source, WebSocketLeg destination, RelayCounters counters, Options options)
    {
        var cursor = source.Cursor;
        // Where the bytes at the start of the buffer stand: the observers walk the forwarded bytes from here.
        var sentCursor = cursor;
        var observing = options.Tap is not null || options.Logging is not null;
        var observed = default(Observed);
        var scanned = default(Scanned);
        byte[]? buffer = null;
        var filled = 0;
        try
        {
            while (true)
            {
                if (options.Finish is { Requested: true } && cursor.Remaining == 0)
                {
                    return Ending(Stop.Finished, source, cursor, buffer is null ? [] : buffer.AsSpan(0, filled), scanned)!.Value;
                }
                if (buffer is null)
                {
                    try
                    {
                        await source.ReadAsync(Memory<byte>.Empty, options.Finish?.IdleRead ?? default).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (options.Finish is { Requested: true })
                    {
                        // Asked to finish while idle between frames.
                        return Ending(Stop.Finished, source, cursor, [], scanned)!.Value;
                    }
                    catch (Exception e)
                    {
                        return Failed(source, e);
                    }
                    buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
                }

                int read;
                try
                {
                    // Between frames a finish may end this read too: a zero-byte read can report data that a read then
                    // does not find, and the wait is here.
                    read = await source.ReadAsync(buffer.AsMemory(filled), cursor.Remaining == 0 ? options.Finish?.IdleRead ?? default : default)
                        .ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (options.Finish is { Requested: true } && cursor.Remaining == 0)
                {
                    return Ending(Stop.Finished, source, cursor, buffer.AsSpan(0, filled), scanned)!.Value;
                }
                catch (Exception e)
                {
                    return Failed(source, e);
                }
                if (read == 0)
                {
                    // End of stream without a close frame.
                    return Failed(source);
                }
                filled += read;

                var stop = Scan(ref cursor, buffer.AsSpan(0, filled), options.MaxMessageBytes, options.Finish is { Requested: true }, ref scanned);
                if (stop == Stop.None && !scanned.Boundary && filled < buffer.Length && cursor.Remaining > 0)
                {
                    // Inside a frame of a message: fill the chunk first. The message is of no use to the receiver
                    // before its end, and every write is a syscall. (At a frame boundary what was scanned goes out, so
                    // a finish asked for meanwhile finds nothing held back.)
                    continue;
                }

                if (scanned.End > 0)
                {
                    counters.BeginForward();
                    try
                    {
                        await destination.WriteAsync(buffer.AsMemory(0, scanned.End)).ConfigureAwait(false);
                    }
                    catch (Exception e)
                    {
                        counters.ForwardFailed();
                        destination.Failed();
                        source.Park(cursor, buffer.AsSpan(scanned.End, filled - scanned.End));
                        return new RelayOutcome(RelayEnd.DestinationFailed) { Error = e };
                    }
                    counters.EndForward(scanned.PayloadBytes, scanned.Messages);
                    if (observing)
                    {
                        Observe(ref sentCursor, ref observed, buffer.AsSpan(0, scanned.End), options);
                    }
                }
                sentCursor = cursor;

                if (Ending(stop, source, cursor, buffer.AsSpan(scanned.End, filled - scanned.End), scanned) is { } ending)
                {
                    return ending;
                }

                // Keep the unfinished header (or close frame) at the start for the next read.
                var tail = filled - scanned.End;
                buffer.AsSpan(scanned.End, tail).CopyTo(buffer);
                filled = tail;
                scanned = default;
                if (tail == 0 && !cursor.InMessage && cursor.Remaining == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
                else if (cursor.InMessage ? buffer.Length < LargeChunkBytes && cursor.Remaining > buffer.Length - tail : buffer.Length > ChunkBytes)
                {
                    // Into the large chunk for the rest of a large message; back to the small one after it.
                    var next = ArrayPool<byte>.Shared.Rent(cursor.InMessage ? LargeChunkBytes : ChunkBytes);
                    buffer.AsSpan(0, tail).CopyTo(next);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = next;
                }
            }
        }
        finally
        {
            if (sentCursor.Remaining > 0)
            {
                destination.WritesEndedMidFrame();
            }
            if (observed.Tapped)
            {
                options.Tap!.Abandon();
            }
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// How a direction ends at a stop <see cref="Scan"/> found, given the bytes from that point on; null for none. The
    /// source leg learns of a close frame, or keeps its place for a close of the gateway's own after a violation.
    /// </summary>
    internal static RelayOutcome? Ending(Stop stop, WebSocketLeg source, FrameCursor cursor, Span<byte> rest, in Scanned scanned)
    {
        switch (stop)
        {
            case Stop.Closed:
                if (!CloseFrame.TryRead(rest, out var status, out var description))
                {
                    return new RelayOutcome(RelayEnd.SourceViolation, CloseDescription: "invalid close frame");
                }
                source.CloseReceived();
                return new RelayOutcome(RelayEnd.SourceClosed, status, description);
            case Stop.Violation:
                // The peer may still read: it is told what it got wrong (the handler decides how).
                source.Park(cursor, rest);
                return new RelayOutcome(RelayEnd.SourceViolation, CloseDescription: scanned.Violation);
            case Stop.Oversize:
                source.Park(cursor, rest);
                return new RelayOutcome(RelayEnd.SourceOversize) { MessageBytes = scanned.OversizeBytes };
            case Stop.Finished:
                source.Park(cursor, rest);
                return new RelayOutcome(RelayEnd.Finished);
            default:
                return null;
        }
    }

    internal static RelayOutcome Failed(WebSocketLeg source, Exception? error = null, int errno = 0)
    {
        source.Failed();
        return new RelayOutcome(RelayEnd.SourceFailed) { Error = error, Errno = errno };
    }

    /// <summary>
    /// What a walk over frames (<see cref="Walk"/>) does on the way; the walk alone decides where frames begin and end. A
    /// struct, so each kind of walk is compiled for its own steps, inlined: the forward path pays for nothing it does not do.
    /// </summary>
    internal interface IFrameSteps
    {
        /// <summary>The walk stops at the next frame boundary (<see cref="Stop.Finished"/>).</summary>
        bool StopAtBoundary { get; }

        /// <summary>
        /// A whole header at the walk's position, <paramref name="available"/> bytes there from its start: true to step past it,
        /// false to stop before it with <paramref name="stop"/>.
        /// </summary>
        bool Enters(in FrameCursor cursor, in FrameHeader header, int available, out Stop stop);

        /// <summary><paramref name="take"/> payload bytes of the cursor's frame, at <paramref name="pos"/>, about to be passed.</summary>
        void Payload(in FrameCursor cursor, int pos, int take);

        /// <summary>What passing a header or a piece of payload completed.</summary>
        void Passed(FrameProgress progress);
    }

    /// <summary>
    /// Walks data[pos..] frame by frame from where <paramref name="cursor"/> stands, up to its end, an unfinished header, or
    /// a stop the steps ask for; <paramref name="pos"/> is then where it stopped.
    /// </summary>
    internal static Stop Walk<TSteps>(ref FrameCursor cursor, ReadOnlySpan<byte> data, ref int pos, ref TSteps steps)
        where TSteps : struct, IFrameSteps, allows ref struct
    {
        while (true)
        {
            if (steps.StopAtBoundary && cursor.Remaining == 0)
            {
                return Stop.Finished;
            }
            if (pos >= data.Length)
            {
                return Stop.None;
            }
            FrameProgress progress;
            if (cursor.Remaining > 0)
            {
                var take = (int)Math.Min(cursor.Remaining, data.Length - pos);
                steps.Payload(in cursor, pos, take);
                progress = cursor.Consume(take);
                pos += take;
            }
            else
            {
                if (!FrameHeader.TryRead(data[pos..], out var header))
                {
                    return Stop.None;
                }
                if (!steps.Enters(in cursor, in header, data.Length - pos, out var stop))
                {
                    return stop;
                }
                pos += header.Length;
                progress = cursor.Enter(header);
            }
            steps.Passed(progress);
        }
    }

    /// <summary>
    /// Passes over data[scanned.End..], checking each header, up to the first point that cannot be
    /// forwarded yet: an unfinished header, a close frame (whole or not), a violation or a frame that
    /// would take its message over the limit, or with <paramref name="finishing"/> the first frame boundary.
    /// Everything before that point may be written as it is.
    /// </summary>
    internal static Stop Scan(ref FrameCursor cursor, ReadOnlySpan<byte> data, long maxMessageBytes, bool finishing, ref Scanned scanned)
    {
        var pos = scanned.End;
        var steps = new ScanSteps(ref scanned, maxMessageBytes, finishing);
        try
        {
            return Walk(ref cursor, data, ref pos, ref steps);
        }
        finally
        {
            scanned.End = pos;
        }
    }

    private ref struct ScanSteps(ref Scanned scanned, long maxMessageBytes, bool finishing) : IFrameSteps
    {
        private readonly ref Scanned _scanned = ref scanned;

        public readonly bool StopAtBoundary => finishing;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly bool Enters(in FrameCursor cursor, in FrameHeader header, int available, out Stop stop)
        {
            if (cursor.Violation(header) is { } violation)
            {
                _scanned.Violation = violation;
                stop = Stop.Violation;
                return false;
            }
            if (header.Opcode == FrameOpcode.Close)
            {
                // Not forwarded: the direction ends there once it is all in.
                stop = available >= header.Length + header.PayloadLength ? Stop.Closed : Stop.None;
                return false;
            }
            if (header.IsData && cursor.PayloadWith(header) > maxMessageBytes)
            {
                _scanned.OversizeBytes = cursor.PayloadWith(header);
                stop = Stop.Oversize;
                return false;
            }
            stop = Stop.None;
            return true;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Payload(in FrameCursor cursor, int pos, int take)
        {
            if (cursor.Frame.IsData)
            {
                _scanned.PayloadBytes += take;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Passed(FrameProgress progress)
        {
            if (progress == FrameProgress.MessageDone)
            {
                _scanned.Messages++;
                _scanned.Boundary = true;
            }
            else if (progress == FrameProgress.ControlDone)
            {
                _scanned.Boundary = true;
            }
        }
    }

    /// <summary>
    /// Walks bytes already forwarded and shows their data payload to the observers: unmasked in place
    /// (the buffer is ours again once written), the first piece of each message to the logger's header
    /// reader and the tap, text messages in full to a tap that asked for them.
    /// </summary>
    internal static void Observe(ref FrameCursor cursor, ref Observed observed, Span<byte> data, Options options)
    {
        var pos = 0;
        var steps = new ObserveSteps(data, ref observed, options);
        Walk(ref cursor, data, ref pos, ref steps);
    }

    private ref struct ObserveSteps(Span<byte> data, ref Observed observed, Options options) : IFrameSteps
    {
        private readonly Span<byte> _data = data;
        private readonly ref Observed _observed = ref observed;
        private long? _timestamp;

        public readonly bool StopAtBoundary => false;

        public readonly bool Enters(in FrameCursor cursor, in FrameHeader header, int available, out Stop stop)
        {
            // Scan has accepted every header of these bytes.
            if (header.Opcode is FrameOpcode.Text or FrameOpcode.Binary)
            {
                _observed = new Observed { Text = header.Opcode == FrameOpcode.Text };
            }
            stop = Stop.None;
            return true;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Payload(in FrameCursor cursor, int pos, int take)
        {
            var frame = cursor.Frame;
            if (!frame.IsData)
            {
                return;
            }
            var offset = cursor.FrameOffset;
            var piece = _data.Slice(pos, take);
            _observed.Bytes += take;
            var ends = frame.Fin && take == cursor.Remaining;
            if (!_observed.Started)
            {
                _observed.Started = true;
                // A tap that wants nothing now (control telemetry off) costs no unmasking and no look at the text.
                var tapWants = _observed.Text && options.Tap is { WantsMessages: true };
                if (tapWants || options.Logging is not null)
                {
                    if (frame.Masked)
                    {
                        PayloadMask.Apply(piece, frame.MaskKey, offset);
                    }
                    if (options.Logging is not null)
                    {
                        _observed.Header = CdpMessageLog.ReadHeader(piece);
                    }
                    _observed.Tapped = tapWants && options.Tap!.Begin(piece, ends);
                }
            }
            else if (_observed.Tapped)
            {
                if (frame.Masked)
                {
                    PayloadMask.Apply(piece, frame.MaskKey, offset);
                }
                options.Tap!.Append(piece);
            }
        }

        public void Passed(FrameProgress progress)
        {
            if (progress == FrameProgress.MessageDone)
            {
                EndMessage(ref _observed, options, ref _timestamp);
            }
        }
    }

    private static void EndMessage(ref Observed observed, Options options, ref long? timestamp)
    {
        if (!observed.Started)
        {
            // A message without payload: its (empty) first piece is also its last.
            observed.Tapped = observed.Text && options.Tap is { WantsMessages: true } tap && tap.Begin([], true);
        }
        if (observed.Tapped)
        {
            timestamp ??= options.Time.GetTimestamp();
            options.Tap!.Forwarded(timestamp.Value);
        }
        options.Logging?.Log.Log(options.Logging.ConnectionId, options.Logging.Direction, observed.Header, observed.Bytes);
        observed = default;
    }
}
