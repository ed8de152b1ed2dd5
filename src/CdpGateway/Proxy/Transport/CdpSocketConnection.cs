using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using CdpGateway.Proxy.Epoll;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace CdpGateway.Proxy.Transport;

/// <summary>
/// One connection on the CDP port as Kestrel sees it: pipes over the socket that read only when Kestrel asks, and a
/// way for the WebSocket handshake to take the socket over (it is on an epoll loop from the start, see <see cref="LoopSocket"/>) once the upgrade is answered (<see cref="TryTakeOver"/>).
/// </summary>
public sealed class CdpSocketConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature
{
    private static long s_lastId;

    private readonly LoopSocket _loopSocket;
    private readonly LoopSocketStream _stream;
    private readonly PipeReader _input;
    private readonly CancellationTokenSource _closed = new();
    private int _aborted;
    private int _disposed;

    /// <param name="alreadyRead">What the CDP port's own upgrade path read before it left the request to Kestrel.</param>
    internal CdpSocketConnection(LoopSocket loopSocket, ReadOnlySpan<byte> alreadyRead)
    {
        _loopSocket = loopSocket;
        var socket = loopSocket.Socket;
        _stream = new LoopSocketStream(_loopSocket, ownsSocket: false, alreadyRead);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        Transport = new DuplexPipe(_input, PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true)));
        ConnectionId = "cdp-" + Interlocked.Increment(ref s_lastId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ConnectionClosed = _closed.Token;
        Features = new FeatureCollection();
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
        Features.Set(this);
    }

    public override string ConnectionId { get; set; }
    public override IFeatureCollection Features { get; }
    public override IDictionary<object, object?> Items { get; set; } = new ConnectionItems();
    public override IDuplexPipe Transport { get; set; }
    public override EndPoint? LocalEndPoint { get; set; }
    public override EndPoint? RemoteEndPoint { get; set; }
    public override CancellationToken ConnectionClosed { get; set; }

    /// <summary>
    /// The socket, for watching it while Kestrel is not reading it (a queued upgrade); null while a read of Kestrel's is
    /// in flight, since that read owns the socket's readiness.
    /// </summary>
    internal LoopSocket? IdleSocket => _stream.ReadInFlight ? null : _loopSocket;

    /// <summary>
    /// After the 101 went out: the socket's stream and whatever Kestrel had read past the request, for the relay to go on
    /// with. False when a read is still in flight (the socket is then Kestrel's to read; the caller keeps using the
    /// upgraded stream). Kestrel no longer reads from the connection after this, except to close it.
    /// </summary>
    internal bool TryTakeOver(out LoopSocketStream stream, out byte[] buffered)
    {
        stream = _stream;
        buffered = [];
        if (_stream.ReadInFlight)
        {
            return false;
        }
        if (_input.TryRead(out var result))
        {
            buffered = result.Buffer.IsEmpty ? [] : System.Buffers.BuffersExtensions.ToArray(result.Buffer);
            _input.AdvanceTo(result.Buffer.End);
        }
        // Bytes the loop's upgrade path read and the pipe has not taken yet come after those.
        if (_stream.TakeAlreadyRead() is { Length: > 0 } rest)
        {
            buffered = [.. buffered, .. rest];
        }
        return true;
    }

    /// <summary>Ends the connection's reads and writes at once (the socket itself is closed on dispose).</summary>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }
        _loopSocket.ShutDown();
        ThreadPool.UnsafeQueueUserWorkItem(static cts => cts.Cancel(), _closed, preferLocal: false);
    }

    public override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // The token source is not disposed: an abort may still be cancelling it on the thread pool.
            _loopSocket.Close();
        }
        return ValueTask.CompletedTask;
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;
        public PipeWriter Output => output;
    }
}
