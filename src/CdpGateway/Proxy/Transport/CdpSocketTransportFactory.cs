using System.Net;
using System.Net.Sockets;
using CdpGateway.Hosting;
using CdpGateway.Proxy.Epoll;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Proxy.Transport;

/// <summary>
/// Kestrel's transport for the CDP port. Kestrel's own socket transport keeps a receive loop running on every
/// connection, so after a WebSocket upgrade the socket cannot be handed to anyone else; this one reads only when
/// Kestrel asks (during the HTTP request), so the relay can take the socket over once the 101 is out. Its sockets live
/// on the <see cref="EpollRelay"/>'s loops, and plain upgrades never reach Kestrel (<see cref="LoopUpgradeAcceptor"/>).
/// </summary>
public sealed class CdpSocketTransportFactory(EpollRelay engine, IServiceProvider services) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private const int Backlog = 512;

    public bool CanBind(EndPoint endpoint) => endpoint is CdpSocketEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var address = (IPEndPoint)endpoint;
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            ClientKeepAlive.Apply(socket);
            socket.Bind(address);
            socket.Listen(Backlog);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var bound = (IPEndPoint)socket.LocalEndPoint!;
        return ValueTask.FromResult<IConnectionListener>(new CdpSocketListener(socket, new CdpSocketEndPoint(bound.Address, bound.Port), engine,
            services.GetRequiredService<LoopUpgradeAcceptor>(), services.GetRequiredService<GatewayOptions>().ShutdownGrace,
            services.GetRequiredService<ILoggerFactory>().CreateLogger<CdpSocketListener>()));
    }
}
