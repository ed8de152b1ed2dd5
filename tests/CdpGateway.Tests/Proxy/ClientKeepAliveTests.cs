using System.Net;
using System.Net.Sockets;
using System.Text;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>
/// Accepted client sockets probe a silent peer, on whichever transport accepted them (the epoll loops, or Kestrel's
/// sockets under <c>CDPGW_EPOLL_RELAY=0</c>): read back from the kernel on the gateway's own end of the connection.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class ClientKeepAliveTests
{
    private const int SolSocket = 1, SoKeepAlive = 9, IpProtoTcp = 6, TcpKeepIdle = 4, TcpKeepIntvl = 5, TcpKeepCnt = 6;

    [Fact]
    public async Task AnAcceptedCdpConnection_ProbesASilentClientWithShortKeepaliveTimers()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await gw.WaitForEventAsync(ConnectionEventTypes.Connect);
        // ClientWebSocket hides its socket: the gateway's end is found by the one connection the fake browser did not make.
        var fd = GatewaySockets.AcceptedDescriptor(gw.App.CdpPort, OnlyClientOf(gw.App.CdpPort));

        AssertKeepAlive(fd);
    }

    [Fact]
    public async Task AnApiPortConnection_ProbesASilentClientToo()
    {
        await using var gw = await TestGateway.StartAsync();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, gw.App.ApiPort);
        // A request answered shows Kestrel accepted the connection.
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /telemetry HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        var answer = new byte[64];
        Assert.True(await socket.ReceiveAsync(answer) > 0);

        AssertKeepAlive(GatewaySockets.AcceptedDescriptor(gw.App.ApiPort, (IPEndPoint)socket.LocalEndPoint!));
    }

    private static void AssertKeepAlive(int fd)
    {
        Assert.Equal(1, GatewaySockets.Option(fd, SolSocket, SoKeepAlive));
        Assert.Equal((int)ClientKeepAlive.Idle.TotalSeconds, GatewaySockets.Option(fd, IpProtoTcp, TcpKeepIdle));
        Assert.Equal((int)ClientKeepAlive.Interval.TotalSeconds, GatewaySockets.Option(fd, IpProtoTcp, TcpKeepIntvl));
        Assert.Equal(ClientKeepAlive.Probes, GatewaySockets.Option(fd, IpProtoTcp, TcpKeepCnt));
    }

    private static IPEndPoint OnlyClientOf(int port)
    {
        var clients = IPGlobalPropertiesConnections().Where(c => c.RemoteEndPoint.Port == port && c.State == System.Net.NetworkInformation.TcpState.Established).ToList();
        return Assert.Single(clients).LocalEndPoint;
    }

    private static System.Net.NetworkInformation.TcpConnectionInformation[] IPGlobalPropertiesConnections() =>
        System.Net.NetworkInformation.IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpConnections();
}
