using System.Buffers;
using System.Net.Sockets;
using System.Net.WebSockets;
using CdpGateway.Proxy.Epoll;

namespace CdpGateway.Proxy;

/// <summary>
/// One side of a relayed connection after its handshake: the raw byte stream, where its peer's frame
/// stream stands, and the close handshake state. The relay reads and writes frames through it
/// unchanged; this type adds only what the gateway itself says or waits for on that side: a close
/// frame, an abort, draining until the peer's close reply.
/// </summary>
public sealed class WebSocketLeg : IDisposable
{
    private readonly Stream _stream;
    private readonly Action? _abort;
    private readonly bool _disposeStream;
    private readonly Socket? _socket;
    private HeldBytes _unread;
    private Task<int>? _handedRead;
    private int _state = (int)WebSocketState.Open;
    private volatile bool _writtenMidFrame;

    /// <param name="stream">The connection after the handshake.</param>
    /// <param name="peerMasks">True for the client's side (its frames are masked), false for Chromium's.</param>
    /// <param name="alreadyRead">Bytes read past the handshake, served before the stream's.</param>
    /// <param name="abort">
    /// Makes pending reads and writes fail. Null for a stream the leg owns: then aborting and disposing
    /// both dispose the stream. A leg over a stream owned by someone else (Kestrel's upgraded request)
    /// passes how to tear that connection down, and disposing it leaves the stream to its owner, so a
    /// close frame already written still goes out when the request ends.
    /// </param>
    /// <param name="disposeStream">
    /// With <paramref name="abort"/>: the leg owns the stream after all, and disposing the leg aborts it, then
    /// disposes the stream (the browser leg: its abort shuts the socket down so a pending read ends without an error).
    /// </param>
    /// <param name="socket">
    /// The socket under a stream that is not a <see cref="LoopSocketStream"/> (Kestrel's upgraded request), when known:
    /// only asked how much it still has to send (<see cref="SendQueueEmpty"/>), never read or written.
    /// </param>
    public WebSocketLeg(Stream stream, bool peerMasks, ReadOnlyMemory<byte> alreadyRead = default, Action? abort = null, bool disposeStream = false,
        Socket? socket = null)
    {
        _socket = socket;
        LoopSocket = (stream as LoopSocketStream)?.Socket;
        _stream = stream;
        _abort = abort;
        _disposeStream = disposeStream;
        Cursor = new FrameCursor(peerMasks);
        _unread = new HeldBytes(alreadyRead.Span);
    }

    /// <summary>The socket under the stream when an epoll loop drives it (the relay may then too), else null.</summary>
    internal LoopSocket? LoopSocket { get; }

    public WebSocketState State => (WebSocketState)Volatile.Read(ref _state);

    /// <summary>Where the peer's frames stand when no relay direction is reading them.</summary>
    internal FrameCursor Cursor { get; private set; }

    /// <summary>
    /// Reads raw bytes. A zero-length read waits until data is there without taking any, which is how
    /// an idle direction waits without a buffer.
    /// </summary>
    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_unread.IsEmpty)
        {
            return ValueTask.FromResult(_unread.MoveTo(buffer.Span));
        }
        if (_handedRead is { } handed)
        {
            // A zero-byte read the dial-phase watch left pending: it says data is there (or the stream ended).
            _handedRead = null;
            return buffer.IsEmpty ? new ValueTask<int>(handed) : ReadAfterAsync(handed, buffer, cancellationToken);
        }
        return _stream.ReadAsync(buffer, cancellationToken);
    }

    private async ValueTask<int> ReadAfterAsync(Task<int> handed, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // The handed read knows nothing of this caller's token; a wait for a close reply that never comes must still end.
        await handed.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await _stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>For <see cref="ClientLeaveWatch"/>: a read on the stream itself, past any unread bytes.</summary>
    internal ValueTask<int> ReadStreamAsync(Memory<byte> buffer) => _stream.ReadAsync(buffer);

    /// <summary>For <see cref="ClientLeaveWatch"/>: whether a read would return at once (data or end of stream is there).</summary>
    internal bool Readable() => LoopSocket is not { } socket || socket.Readable();

    /// <summary>For <see cref="ClientLeaveWatch"/>: a zero-byte read it started and did not finish, for the next reader.</summary>
    internal void HandOver(Task<int> zeroByteRead) => _handedRead = zeroByteRead;

    /// <summary>For <see cref="ClientLeaveWatch"/>: takes the bytes not read yet (they come back with <see cref="PutBack"/>).</summary>
    internal byte[] TakeUnread() => _unread.Take();

    /// <summary>For <see cref="ClientLeaveWatch"/>: bytes it read ahead, served before the stream's.</summary>
    internal void PutBack(ReadOnlySpan<byte> bytes) => _unread = new HeldBytes(bytes);

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        _stream.WriteAsync(data, cancellationToken);

    /// <summary>
    /// A relay direction stopped reading before the peer's close: keeps its place in the frame stream
    /// and the bytes it had read but not passed over, so <see cref="DrainUntilCloseAsync"/> goes on from there.
    /// </summary>
    internal void Park(FrameCursor cursor, ReadOnlySpan<byte> unread)
    {
        Cursor = cursor;
        if (!unread.IsEmpty)
        {
            _unread = new HeldBytes(unread);
        }
    }

    /// <summary>The peer's close frame arrived.</summary>
    internal void CloseReceived() => Transition(WebSocketState.CloseReceived);

    /// <summary>
    /// The relay stopped writing to this leg inside a frame it could not finish (its source went away in the middle of
    /// it): a close frame now would land inside that frame, so none is sent.
    /// </summary>
    internal void WritesEndedMidFrame() => _writtenMidFrame = true;

    /// <summary>Reading or writing failed, or the peer broke the protocol: no close handshake is possible any more.</summary>
    internal void Failed() => Volatile.Write(ref _state, (int)WebSocketState.Aborted);

    /// <summary>
    /// Sends an unmasked close frame (the gateway speaks as the server on the client's side). Never
    /// call it while a relay direction may be writing to this leg: frames must not interleave.
    /// </summary>
    public async Task<bool> SendCloseAsync(WebSocketCloseStatus status, string description, CancellationToken cancellationToken)
    {
        if (_writtenMidFrame || State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return false;
        }
        var frame = ArrayPool<byte>.Shared.Rent(CloseFrame.MaxFrameBytes);
        try
        {
            var length = CloseFrame.Write(frame, status, description);
            await _stream.WriteAsync(frame.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Reset, abort, timeout: the close handshake is off.
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
        Transition(WebSocketState.CloseSent);
        return true;
    }

    /// <summary>
    /// Whether everything written so far has been acknowledged by the peer's TCP stack (so a close frame written reached
    /// it); null when that cannot be told. Ask before aborting: an abort lets the kernel drop what it still holds.
    /// </summary>
    internal bool? SendQueueEmpty()
    {
        int? unsent = null;
        if (LoopSocket is { } loopSocket)
        {
            unsent = loopSocket.UnsentBytes();
        }
        else if (_socket is { } socket && OperatingSystem.IsLinux())
        {
            try
            {
                unsent = LinuxSockets.UnsentBytes((int)socket.Handle);
            }
            catch (ObjectDisposedException)
            {
                // Its connection is already gone: nothing can be told.
            }
        }
        return unsent is { } bytes ? bytes == 0 : null;
    }

    /// <summary>
    /// Reads and discards the peer's frames until its close frame, so that closing the connection with
    /// unread data does not turn into a TCP reset that overtakes our own close frame. Ends early on a
    /// protocol error, end of stream or cancellation. Frames are walked by <see cref="WebSocketFrameRelay.Scan"/>,
    /// as the relay walks them, without a size limit: what is discarded is never refused for its size.
    /// </summary>
    public async Task DrainUntilCloseAsync(CancellationToken cancellationToken)
    {
        // Room for any header and any whole close frame, which is all the scan ever leaves unpassed.
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        var cursor = Cursor;
        var filled = 0;
        try
        {
            while (true)
            {
                var scanned = default(WebSocketFrameRelay.Scanned);
                var stop = WebSocketFrameRelay.Scan(ref cursor, buffer.AsSpan(0, filled), long.MaxValue, finishing: false, ref scanned);
                if (stop == WebSocketFrameRelay.Stop.Closed)
                {
                    CloseReceived();
                    return;
                }
                if (stop != WebSocketFrameRelay.Stop.None)
                {
                    // A protocol violation: no close frame can be told apart after it.
                    return;
                }
                buffer.AsSpan(scanned.End, filled - scanned.End).CopyTo(buffer);
                filled -= scanned.End;
                var read = await ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }
                filled += read;
            }
        }
        catch (Exception)
        {
            // Reset, abort, timeout: nothing more to wait for.
        }
        finally
        {
            Cursor = cursor;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Ends the leg at once: pending reads and writes fail, no close handshake, unsent bytes may be lost.</summary>
    public void Abort()
    {
        Volatile.Write(ref _state, (int)WebSocketState.Aborted);
        if (_abort is not null)
        {
            _abort();
        }
        else
        {
            _stream.Dispose();
        }
    }

    /// <summary>Lets go of the leg: closes a stream it owns, leaves one it does not to its owner.</summary>
    public void Dispose()
    {
        if (_abort is null)
        {
            Abort();
        }
        else if (_disposeStream)
        {
            Abort();
            _stream.Dispose();
        }
    }

    private void Transition(WebSocketState half)
    {
        while (true)
        {
            var current = Volatile.Read(ref _state);
            var next = current switch
            {
                (int)WebSocketState.Open => (int)half,
                (int)WebSocketState.CloseSent when half == WebSocketState.CloseReceived => (int)WebSocketState.Closed,
                (int)WebSocketState.CloseReceived when half == WebSocketState.CloseSent => (int)WebSocketState.Closed,
                _ => current,
            };
            if (next == current || Interlocked.CompareExchange(ref _state, next, current) == current)
            {
                return;
            }
        }
    }
}
