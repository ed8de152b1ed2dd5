using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using static CdpGateway.Proxy.Epoll.LinuxSockets;

namespace CdpGateway.Proxy.Epoll;

/// <summary>
/// A <see cref="LoopSocket"/> as a stream, for what is read and written outside the relay: Kestrel's HTTP request and
/// answers, the upgrade with Chromium, the dial-time watch, close frames. Each call tries the socket first and waits
/// on the loop only when it would block. It knows whether a read is in flight: the relay may take the socket over only
/// while nothing else is reading it.
/// </summary>
/// <param name="alreadyRead">Bytes taken from the socket before the stream was made, served first.</param>
internal sealed class LoopSocketStream(LoopSocket socket, bool ownsSocket, ReadOnlySpan<byte> alreadyRead = default) : Stream
{
    private HeldBytes _alreadyRead = new(alreadyRead);
    private int _reading;

    public LoopSocket Socket => socket;

    public bool ReadInFlight => Volatile.Read(ref _reading) != 0;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>A zero-byte read waits until data (or the end) is there without taking any.</summary>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // A zero-byte read finds data there at once.
        return _alreadyRead.IsEmpty ? ReadSocketAsync(buffer, cancellationToken) : ValueTask.FromResult(_alreadyRead.MoveTo(buffer.Span));
    }

    /// <summary>What is left of the bytes read before the stream was made (for whoever reads the socket next).</summary>
    public byte[] TakeAlreadyRead() => _alreadyRead.Take();

    private async ValueTask<int> ReadSocketAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _reading, 1);
        try
        {
            while (true)
            {
                int result = TryReceive(buffer.Span);
                if (result >= 0)
                {
                    return result;
                }
                await socket.WaitAsync(EPOLLIN, cancellationToken).ConfigureAwait(false);
                if (buffer.IsEmpty)
                {
                    return 0;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            int sent = TrySend(buffer.Span);
            if (sent > 0)
            {
                buffer = buffer[sent..];
                continue;
            }
            await socket.WaitAsync(EPOLLOUT, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>When it owns the socket: leaves the loop and closes it.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && ownsSocket)
        {
            socket.Close();
        }
        base.Dispose(disposing);
    }

    /// <summary>Bytes read (0 at the end of the stream), or -1 when it would block.</summary>
    private int TryReceive(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(socket.IsClosed, this);
        // An empty buffer asks whether data is there, without taking it.
        Span<byte> probe = stackalloc byte[1];
        int received = buffer.IsEmpty ? Receive(socket.Fd, probe, MSG_PEEK) : Receive(socket.Fd, buffer, 0);
        return received switch
        {
            Failed => throw Failure("read"),
            WouldBlock => -1,
            _ => buffer.IsEmpty ? 0 : received,
        };
    }

    /// <summary>Bytes sent, or 0 when it would block.</summary>
    private unsafe int TrySend(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(socket.IsClosed, this);
        nint sent;
        fixed (byte* start = buffer)
        {
            sent = Send(socket.Fd, start, buffer.Length, MSG_NOSIGNAL);
        }
        if (sent >= 0)
        {
            return (int)sent;
        }
        return Marshal.GetLastPInvokeError() is EAGAIN or EINTR ? 0 : throw Failure("write");
    }

    // Kestrel takes an IOException of this kind for the client's leaving; so do the relay's callers.
    private static ConnectionResetException Failure(string what) =>
        new($"{what} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
