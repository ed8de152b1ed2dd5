using System.Net.Sockets;

namespace CdpGateway.Proxy;

/// <summary>
/// TCP keepalive for the gateway's listening sockets. A client whose machine or network vanishes sends no FIN, and
/// without probes its connection (its slot and its browser leg) would be held for as long as the gateway runs. Set on
/// the listening socket, not on each accepted one: Linux copies the listener's options into every connection it
/// accepts, so this costs no system call per connection.
/// </summary>
public static class ClientKeepAlive
{
    /// <summary>Silence before the first probe.</summary>
    public static readonly TimeSpan Idle = TimeSpan.FromSeconds(30);

    /// <summary>Between unanswered probes.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>Unanswered probes after which the kernel resets the connection.</summary>
    public const int Probes = 3;

    public static void Apply(Socket socket)
    {
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)Idle.TotalSeconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)Interval.TotalSeconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, Probes);
    }
}
