using System.Net;
using System.Net.Sockets;
using CdpGateway.Proxy.Epoll;
using Microsoft.AspNetCore.Connections;

namespace CdpGateway.Proxy.Transport;

/// <summary>Accepts the CDP port's connections for Kestrel, each as a <see cref="CdpSocketConnection"/>.</summary>
internal sealed class CdpSocketListener(Socket listener, EndPoint endPoint, EpollRelay engine) : IConnectionListener
{
    public EndPoint EndPoint => endPoint;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException
                || ex is SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted })
            {
                // Unbound: Kestrel stops asking.
                return null;
            }
            catch (SocketException)
            {
                // A connection reset before it was accepted: take the next one.
                continue;
            }
            socket.NoDelay = true;
            return new CdpSocketConnection(socket, engine.NextLoop());
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        listener.Dispose();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        listener.Dispose();
        return ValueTask.CompletedTask;
    }
}
