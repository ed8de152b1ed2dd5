using System.Buffers;
using System.Net.Sockets;
using System.Threading.Channels;
using CdpGateway.Hosting;
using CdpGateway.Proxy.Epoll;
using CdpGateway.Telemetry.Tracing;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using static CdpGateway.Proxy.Epoll.LinuxSockets;

namespace CdpGateway.Proxy.Transport;

/// <summary>
/// The CDP port's own upgrade path. A new connection's request is read on its socket's epoll loop; a plain WebSocket
/// upgrade (see <see cref="UpgradeRequestHead"/>) that <see cref="AccessPolicy"/> allows is answered here with Switching
/// Protocols and run by <see cref="CdpConnectionHandler"/> on the loop's thread, with no Kestrel connection, HTTP context or thread-pool
/// hand-over in its way (connection churn was bound by those). Every other request, and every upgrade the policy refuses,
/// is handed to Kestrel with the bytes read so far, so its answer is exactly Kestrel's (which asks the same policy).
/// </summary>
internal sealed class LoopUpgradeAcceptor(CdpConnectionHandler handler, AccessPolicy access, GatewayLifetime lifetime, TimeProvider time,
    ILogger<LoopUpgradeAcceptor> logger)
{
    /// <summary>The last Host value read, so the next request naming the same one costs no new string.</summary>
    private string? _lastHost;

    /// <summary>
    /// How long a connection that has sent nothing yet is waited for here; after that it is Kestrel's, with Kestrel's own
    /// timeouts. A client's request normally follows its connect at once.
    /// </summary>
    internal static readonly TimeSpan FirstBytesWait = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private int _running;
    private TaskCompletionSource? _allEnded;

    /// <summary>
    /// Takes an accepted socket. Returns at the connection's first wait (the caller's thread may do its whole upgrade
    /// when the request is already there); whatever is not answered here is written to <paramref name="kestrel"/>.
    /// </summary>
    public void Start(SafeSocketHandle socket, EpollLoop loop, ChannelWriter<ConnectionContext> kestrel)
    {
        Interlocked.Increment(ref _running);
        _ = RunAsync(socket, loop, kestrel);
    }

    /// <summary>Connections taken here and not yet ended or handed to Kestrel.</summary>
    internal int Running => Volatile.Read(ref _running);

    /// <summary>Waits, up to <paramref name="limit"/>, until no connection taken here is still running.</summary>
    public Task WaitForAllAsync(TimeSpan limit)
    {
        lock (_gate)
        {
            if (Volatile.Read(ref _running) == 0)
            {
                return Task.CompletedTask;
            }
            _allEnded ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _allEnded.Task.WaitAsync(limit, time).ContinueWith(static _ => { }, TaskScheduler.Default);
        }
    }

    private async Task RunAsync(SafeSocketHandle socket, EpollLoop loop, ChannelWriter<ConnectionContext> kestrel)
    {
        LoopSocket? loopSocket = null;
        var head = ArrayPool<byte>.Shared.Rent(UpgradeRequestHead.MaxBytes);
        var headReturned = false;
        try
        {
            loopSocket = new LoopSocket(socket, loop, inlineContinuations: true);
            var (status, request, length) = await ReadHeadAsync(loopSocket, head).ConfigureAwait(false);
            if (status is null)
            {
                // It left (or the gateway is stopping) before saying anything: nothing to answer.
                loopSocket.Close();
                return;
            }
            Task? connection = null;
            if (status == UpgradeRequestHeadStatus.Upgrade && access.Decide(request.Access).IsAllowed)
            {
                var leftover = head.AsSpan(request.Length, length - request.Length).ToArray();
                var client = loopSocket;
                connection = handler.TryHandleUpgrade(request.Path, PeerAddress(client.Fd), () => AcceptAsync(client, request.Key, leftover),
                    new TraceHeaders(request.TraceParent, request.TraceState));
            }
            if (connection is null)
            {
                loopSocket.InlineContinuations = false;
                if (!kestrel.TryWrite(new CdpSocketConnection(loopSocket, head.AsSpan(0, length))))
                {
                    // The port is closing.
                    loopSocket.Close();
                }
                return;
            }
            ArrayPool<byte>.Shared.Return(head);
            headReturned = true;
            try
            {
                await connection.ConfigureAwait(false);
            }
            finally
            {
                loopSocket.Close();
            }
        }
        catch (Exception ex)
        {
            // A client gone during the 101, or a fault of ours: its socket goes, the gateway goes on.
            logger.LogDebug(ex, "A CDP connection ended during its upgrade");
            loopSocket?.Close();
            if (loopSocket is null)
            {
                socket.Dispose();
            }
        }
        finally
        {
            if (!headReturned)
            {
                ArrayPool<byte>.Shared.Return(head);
            }
            Ended();
        }
    }

    /// <summary>
    /// Reads until the head is complete, waiting at most once, and only before the first byte: a request that comes in
    /// pieces is Kestrel's to read. Null status: the client left, or the gateway stopped, before sending anything.
    /// </summary>
    private async Task<(UpgradeRequestHeadStatus? Status, UpgradeRequestHead Request, int Length)> ReadHeadAsync(LoopSocket socket, byte[] head)
    {
        int length = 0;
        bool waited = false;
        while (true)
        {
            int read = Receive(socket.Fd, head.AsSpan(length, UpgradeRequestHead.MaxBytes - length), 0);
            if (read > 0)
            {
                length += read;
                var status = UpgradeRequestHead.TryRead(head.AsSpan(0, length), out var request, Volatile.Read(ref _lastHost));
                if (status != UpgradeRequestHeadStatus.Incomplete)
                {
                    if (status == UpgradeRequestHeadStatus.Upgrade)
                    {
                        Volatile.Write(ref _lastHost, request.Host);
                    }
                    return (status, request, length);
                }
                continue;
            }
            if (read == 0 || read == Failed)
            {
                return length == 0 ? (null, default, 0) : (UpgradeRequestHeadStatus.ForKestrel, default, length);
            }
            if (waited || length > 0)
            {
                return (UpgradeRequestHeadStatus.ForKestrel, default, length);
            }
            waited = true;
            if (!await WaitForFirstBytesAsync(socket).ConfigureAwait(false))
            {
                return lifetime.Stopping.IsCancellationRequested ? (null, default, 0) : (UpgradeRequestHeadStatus.ForKestrel, default, 0);
            }
        }
    }

    private async Task<bool> WaitForFirstBytesAsync(LoopSocket socket)
    {
        using var timeout = new CancellationTokenSource(FirstBytesWait, time);
        using var stopping = lifetime.Stopping.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), timeout);
        try
        {
            await socket.WaitAsync(EPOLLIN, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Answers the upgrade (RFC 6455 §4.2.2: no extension, no subprotocol) and returns the client's leg.</summary>
    private static async Task<WebSocketLeg> AcceptAsync(LoopSocket socket, string key, byte[] leftover)
    {
        var stream = new LoopSocketStream(socket, ownsSocket: false);
        var answer = SwitchingProtocols(key);
        await stream.WriteAsync(answer).ConfigureAwait(false);
        // The socket is closed by RunAsync once the handler is done with the leg, as Kestrel closes its connections.
        return new WebSocketLeg(stream, peerMasks: true, leftover, abort: socket.ShutDown);
    }

    private static ReadOnlySpan<byte> SwitchingProtocolsStart => "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: "u8;

    /// <summary>The 101 for a key that <see cref="UpgradeRequestHead"/> took.</summary>
    private static byte[] SwitchingProtocols(string key)
    {
        var answer = new byte[SwitchingProtocolsStart.Length + WebSocketAccept.Length + 4];
        SwitchingProtocolsStart.CopyTo(answer);
        WebSocketAccept.Write(key, answer.AsSpan(SwitchingProtocolsStart.Length));
        "\r\n\r\n"u8.CopyTo(answer.AsSpan(answer.Length - 4));
        return answer;
    }

    private void Ended()
    {
        if (Interlocked.Decrement(ref _running) != 0)
        {
            return;
        }
        TaskCompletionSource? ended;
        lock (_gate)
        {
            ended = _allEnded;
            _allEnded = null;
        }
        ended?.TrySetResult();
    }
}
