using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using CdpGateway.Proxy;
using CdpGateway.Proxy.Epoll;

namespace Bench.Micro;

/// <summary>
/// The epoll relay (what the gateway runs on Linux x86-64 and arm64) between real loopback sockets: the benchmark thread sends
/// a masked client frame on one socket and receives it from the browser's side of the relay. <c>Direct</c> is the same
/// send and receive over one loopback pair, so Relay minus Direct is the relay's cost per message (two more socket
/// calls and a wake-up of the loop's thread). Allocation is counted for the whole process, loop thread included:
/// the steady-state target is 0 B per relayed message.
/// </summary>
[MemoryDiagnoser]
public class EpollRelayBenchmarks
{
    private Socket _directSend = null!, _directReceive = null!;
    private Socket _clientPeer = null!, _browserPeer = null!;
    private WebSocketLeg _client = null!, _upstream = null!;
    private Task<RelayOutcome> _toUpstream = null!;
    private EpollRelay _engine = null!;
    private byte[] _frame = null!;
    private byte[] _receive = null!;

    [Params(100, 1024, 65536)]
    public int Bytes { get; set; }

    private static (Socket Ours, Socket Peer) Pair()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var peer = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        peer.Connect(listener.LocalEndPoint!);
        var ours = listener.Accept();
        ours.NoDelay = true;
        return (ours, peer);
    }

    [GlobalSetup]
    public void Setup()
    {
        var engine = _engine = EpollRelay.OffReasonHere is { } off
            ? throw new PlatformNotSupportedException(off)
            : EpollRelay.Create(null, Microsoft.Extensions.Logging.Abstractions.NullLogger<EpollRelay>.Instance);
        (_directSend, _directReceive) = Pair();
        var loop = engine.NextLoop();
        var (clientOurs, clientPeer) = Pair();
        var (browserOurs, browserPeer) = Pair();
        _clientPeer = clientPeer;
        _browserPeer = browserPeer;
        _client = new WebSocketLeg(new LoopSocketStream(new LoopSocket(clientOurs, loop), ownsSocket: true), peerMasks: true,
            abort: () => clientOurs.Shutdown(SocketShutdown.Both), disposeStream: true);
        _upstream = new WebSocketLeg(new LoopSocketStream(new LoopSocket(browserOurs, loop), ownsSocket: true), peerMasks: false,
            abort: () => browserOurs.Shutdown(SocketShutdown.Both), disposeStream: true);
        var options = new WebSocketFrameRelay.Options(100 << 20, TimeProvider.System);
        (_toUpstream, _) = engine.TryStart(_client, _upstream, new RelayCounters(), new RelayCounters(), options, options)
            ?? throw new InvalidOperationException("the relay did not take the sockets");

        // A masked binary frame with the all-zero key: its payload travels as it is.
        var payload = new byte[Bytes];
        new Random(1).NextBytes(payload);
        var header = Bytes < 126 ? new byte[] { 0x82, (byte)(0x80 | Bytes) }
            : Bytes <= ushort.MaxValue ? [0x82, 0x80 | 126, (byte)(Bytes >> 8), (byte)Bytes]
            : [0x82, 0x80 | 127, 0, 0, 0, 0, (byte)(Bytes >> 24), (byte)(Bytes >> 16), (byte)(Bytes >> 8), (byte)Bytes];
        _frame = [.. header, 0, 0, 0, 0, .. payload];
        _receive = new byte[_frame.Length];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _upstream.Dispose();
        _clientPeer.Dispose();
        _browserPeer.Dispose();
        _directSend.Dispose();
        _directReceive.Dispose();
        _toUpstream.Wait(TimeSpan.FromSeconds(5));
        _engine.Dispose();
    }

    [Benchmark(Baseline = true, Description = "send+receive over one loopback pair, no relay")]
    public int Direct() => SendAndReceive(_directSend, _directReceive);

    [Benchmark(Description = "send+receive through the epoll relay")]
    public int Relay() => SendAndReceive(_clientPeer, _browserPeer);

    private int SendAndReceive(Socket from, Socket to)
    {
        from.Send(_frame);
        int total = 0;
        while (total < _frame.Length)
        {
            total += to.Receive(_receive, total, _frame.Length - total, SocketFlags.None);
        }
        return total;
    }
}
