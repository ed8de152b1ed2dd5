using System.Net;
using System.Net.Sockets;
using CdpGateway.Proxy.Epoll;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy.Epoll;

/// <summary>A socket driven by an epoll loop outside the relay: connecting, reading and writing, cancelling a wait.</summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class LoopSocketTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>A socket on a loop, connected to a plain one the test holds.</summary>
    private sealed class Connected : IDisposable
    {
        public required LoopSocket Socket { get; init; }
        public required LoopSocketStream Stream { get; init; }
        public required Socket Peer { get; init; }

        public void Dispose()
        {
            Stream.Dispose();
            Peer.Dispose();
        }
    }

    private static async Task<Connected> ConnectAsync()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var socket = new LoopSocket(new Socket(SocketType.Stream, ProtocolType.Tcp), TestLoops.Next());
        var stream = new LoopSocketStream(socket, ownsSocket: true);
        var accepting = listener.AcceptAsync();
        await socket.ConnectAsync((IPEndPoint)listener.LocalEndPoint!, CancellationToken.None).WaitAsync(Patience);
        return new Connected { Socket = socket, Stream = stream, Peer = await accepting.WaitAsync(Patience) };
    }

    private static int ClosedPort()
    {
        using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    [EpollFact]
    public async Task ConnectsWithoutBlocking_ThenBytesFlowBothWays()
    {
        using var connected = await ConnectAsync();
        var (stream, peer) = (connected.Stream, connected.Peer);

        await stream.WriteAsync("ping"u8.ToArray());
        var received = new byte[4];
        Assert.Equal(4, await peer.ReceiveAsync(received));
        Assert.Equal("ping"u8.ToArray(), received);
        await peer.SendAsync("pong"u8.ToArray());
        var buffer = new byte[16];
        Assert.Equal(4, await stream.ReadAsync(buffer).AsTask().WaitAsync(Patience));
        Assert.Equal("pong"u8.ToArray(), buffer[..4]);
    }

    [EpollFact]
    public async Task AConnectNobodyAnswersFailsNamingTheAddress()
    {
        var port = ClosedPort();
        var socket = new LoopSocket(new Socket(SocketType.Stream, ProtocolType.Tcp), TestLoops.Next());
        using var stream = new LoopSocketStream(socket, ownsSocket: true);

        var failure = await Assert.ThrowsAsync<SocketException>(() => socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), CancellationToken.None));

        Assert.Equal(SocketError.ConnectionRefused, failure.SocketErrorCode);
        Assert.Contains($":{port}", failure.Message);
    }

    [EpollFact]
    public async Task ACancelledReadLeavesTheSocketUsable()
    {
        using var connected = await ConnectAsync();
        var (stream, peer) = (connected.Stream, connected.Peer);

        using (var cancel = new CancellationTokenSource())
        {
            var waiting = stream.ReadAsync(new byte[16], cancel.Token).AsTask();
            Assert.False(waiting.IsCompleted);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience));
        }

        await peer.SendAsync("late"u8.ToArray());
        var buffer = new byte[16];
        Assert.Equal(4, await stream.ReadAsync(buffer).AsTask().WaitAsync(Patience));
        Assert.Equal("late"u8.ToArray(), buffer[..4]);
    }
}
