using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using CdpGateway.Proxy.Epoll;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Proxy.Transport;

/// <summary>
/// Accepts the CDP port's connections on the epoll loops (<see cref="LoopListener"/>). Each goes to
/// <see cref="LoopUpgradeAcceptor"/> first, on the loop that accepted it, which answers plain WebSocket upgrades itself;
/// what it leaves to Kestrel comes out of <see cref="AcceptAsync"/> as a <see cref="CdpSocketConnection"/>.
/// </summary>
internal sealed class CdpSocketListener : IConnectionListener
{
    private readonly Socket _listener;
    private readonly LoopListener _loopListener;
    private readonly LoopUpgradeAcceptor _upgrades;
    private readonly TimeSpan _shutdownGrace;
    private readonly Channel<ConnectionContext> _forKestrel = Channel.CreateUnbounded<ConnectionContext>(new UnboundedChannelOptions { SingleReader = true });
    private int _unbound;

    public CdpSocketListener(Socket listener, EndPoint endPoint, EpollRelay engine, LoopUpgradeAcceptor upgrades, TimeSpan shutdownGrace, ILogger logger)
    {
        _listener = listener;
        _upgrades = upgrades;
        _shutdownGrace = shutdownGrace;
        EndPoint = endPoint;
        _loopListener = new LoopListener(listener, engine, Accepted, message => logger.LogWarning("{Problem}", message));
    }

    public EndPoint EndPoint { get; }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        var reader = _forKestrel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.TryRead(out var connection))
                {
                    return connection;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        // Unbound: Kestrel stops asking.
        return null;
    }

    private void Accepted(SafeSocketHandle socket, EpollLoop loop)
    {
        LinuxSockets.SetNoDelay((int)socket.DangerousGetHandle());
        _upgrades.Start(socket, loop, _forKestrel.Writer);
    }

    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _unbound, 1) != 0)
        {
            return;
        }
        _loopListener.Close();
        _listener.Dispose();
        _forKestrel.Writer.TryComplete();
        // Connections Kestrel has not taken yet are closed: nobody will answer them now.
        while (_forKestrel.Reader.TryRead(out var left))
        {
            await left.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await UnbindAsync().ConfigureAwait(false);
        // The connections answered here are not Kestrel's, so its shutdown does not wait for them: this does (they
        // were told to close when the gateway began stopping).
        await _upgrades.WaitForAllAsync(_shutdownGrace).ConfigureAwait(false);
    }
}
