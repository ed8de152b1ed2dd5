using CdpGateway.Proxy.Epoll;
using CdpGateway.Proxy.Transport;
using Microsoft.AspNetCore.Http;
using static CdpGateway.Proxy.Epoll.LinuxSockets;

namespace CdpGateway.Proxy;

/// <summary>
/// Tells when a client whose upgrade waits in the connection queue goes away, so its place is given up at once rather
/// than when its wait runs out. Kestrel's own transport notices the end of the client's stream by itself (the request
/// is aborted); the CDP port's epoll transport reads only when Kestrel asks, and Kestrel asks nothing of an upgrade
/// request before its answer, so there the socket is watched here until the wait is over.
/// </summary>
internal sealed class QueuedClientWatch : IAsyncDisposable
{
    private readonly CancellationTokenSource _gone = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenRegistration _aborted;
    private readonly Task _watching = Task.CompletedTask;

    public QueuedClientWatch(HttpContext context)
    {
        _aborted = context.RequestAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _gone);
        if (context.Features.Get<CdpSocketConnection>()?.IdleSocket is { } socket)
        {
            _watching = WatchAsync(socket);
        }
    }

    public CancellationToken Gone => _gone.Token;

    private async Task WatchAsync(LoopSocket socket)
    {
        var probe = new byte[1];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await socket.WaitAsync(EPOLLIN, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (InvalidOperationException)
            {
                // Someone else is waiting on the socket after all: its wait will see the end, not this one.
                return;
            }
            if (socket.IsClosed)
            {
                await _gone.CancelAsync().ConfigureAwait(false);
                return;
            }
            var peeked = Receive(socket.Fd, probe, MSG_PEEK | MSG_DONTWAIT);
            if (peeked == 0 || peeked == Failed)
            {
                await _gone.CancelAsync().ConfigureAwait(false);
                return;
            }
            if (peeked > 0)
            {
                // Bytes before the answer: the end of the stream, if it follows, stays hidden behind them until Kestrel
                // reads them, and waiting again would wake at once for ever. The queue timeout still bounds the wait.
                return;
            }
        }
    }

    /// <summary>Stops watching; once this completes the socket has no wait of this watch's left on it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watching.ConfigureAwait(false);
        await _aborted.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        _gone.Dispose();
    }
}
