using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using CdpGateway.Proxy;
using CdpGateway.Proxy.Epoll;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy.Epoll;

/// <summary>
/// The epoll relay over real loopback sockets: the test holds the client's and the browser's far ends as plain
/// sockets, the relay drives the gateway's ends on one of its loops.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class EpollRelayTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static EpollRelay Engine => TestLoops.Engine;

    /// <summary>Records each message the relay shows it, with the name of the thread that showed it.</summary>
    private sealed class ThreadRecordingTap : IMessageTap
    {
        private readonly List<byte> _current = [];
        public List<(string Text, string? Thread)> Messages { get; } = [];
        public bool WantsMessages => true;

        public int Count
        {
            get
            {
                lock (Messages)
                {
                    return Messages.Count;
                }
            }
        }
        public int Abandons { get; private set; }

        public bool Begin(ReadOnlySpan<byte> firstChunk, bool endOfMessage)
        {
            _current.Clear();
            _current.AddRange(firstChunk.ToArray());
            return true;
        }

        public void Append(ReadOnlySpan<byte> chunk) => _current.AddRange(chunk.ToArray());

        public void Forwarded(long timestamp)
        {
            lock (Messages)
            {
                Messages.Add((Encoding.UTF8.GetString([.. _current]), Thread.CurrentThread.Name));
            }
        }

        public void Abandon() => Abandons++;
    }

    private sealed class Relayed : IDisposable
    {
        public required Socket ClientPeer { get; init; }
        public required Socket BrowserPeer { get; init; }
        public required WebSocketLeg Client { get; init; }
        public required WebSocketLeg Upstream { get; init; }
        public required EpollLoop Loop { get; init; }
        public RelayCounters FromClient { get; } = new();
        public RelayCounters FromUpstream { get; } = new();
        public Task<RelayOutcome> ClientToUpstream { get; set; } = null!;
        public Task<RelayOutcome> UpstreamToClient { get; set; } = null!;

        public void Dispose()
        {
            ClientPeer.Dispose();
            BrowserPeer.Dispose();
            Client.Dispose();
            Upstream.Dispose();
        }
    }

    private static async Task<(Socket Ours, Socket Peer)> PairAsync()
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        // A small receive window on the far end: a large message cannot fit in the socket buffers, so the relay's
        // path for bytes the destination does not take at once is always taken.
        var peer = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 8192 };
        var accepting = listener.AcceptAsync();
        await peer.ConnectAsync(listener.LocalEndPoint!);
        return (await accepting, peer);
    }

    private static async Task<Relayed> StartAsync(IMessageTap? tap = null, long maxMessageBytes = 1 << 30, byte[]? clientAlreadySent = null,
        EpollLoop? loop = null, IMessageTap? upstreamTap = null)
    {
        loop ??= Engine.NextLoop();
        var (clientOurs, clientPeer) = await PairAsync();
        var (browserOurs, browserPeer) = await PairAsync();
        var relayed = new Relayed
        {
            ClientPeer = clientPeer,
            BrowserPeer = browserPeer,
            // As in the gateway: aborting a leg shuts its socket down (its reads see the end), disposing it closes it.
            Client = new WebSocketLeg(new LoopSocketStream(new LoopSocket(clientOurs, loop), ownsSocket: true), peerMasks: true, clientAlreadySent,
                abort: clientOurs.ShutDownQuietly, disposeStream: true),
            Upstream = new WebSocketLeg(new LoopSocketStream(new LoopSocket(browserOurs, loop), ownsSocket: true), peerMasks: false,
                abort: browserOurs.ShutDownQuietly, disposeStream: true),
            Loop = loop,
        };
        var started = Engine.TryStart(relayed.Client, relayed.Upstream, relayed.FromClient, relayed.FromUpstream,
            new WebSocketFrameRelay.Options(maxMessageBytes, TimeProvider.System, Tap: tap),
            new WebSocketFrameRelay.Options(maxMessageBytes, TimeProvider.System, Tap: upstreamTap));
        Assert.NotNull(started);
        (relayed.ClientToUpstream, relayed.UpstreamToClient) = started.Value;
        return relayed;
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        var filled = 0;
        using var timeout = new CancellationTokenSource(Patience);
        while (filled < count)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token);
            Assert.NotEqual(0, read);
            filled += read;
        }
        return buffer;
    }

    [EpollFact]
    public async Task FramesPassByteForByteBothWays_AndTheTapSeesCommandsOnTheRelayThread()
    {
        var tap = new ThreadRecordingTap();
        using var relayed = await StartAsync(tap);
        var command = Frames.Text("{\"id\":1,\"method\":\"Input.dispatchMouseEvent\"}", masked: true);
        var answer = Frames.Text("{\"id\":1,\"result\":{}}", masked: false);

        await relayed.ClientPeer.SendAsync(command);
        Assert.Equal(command, await ReceiveExactlyAsync(relayed.BrowserPeer, command.Length));
        await relayed.BrowserPeer.SendAsync(answer);
        Assert.Equal(answer, await ReceiveExactlyAsync(relayed.ClientPeer, answer.Length));
        // The relay thread counts and shows a message after its send returned: the peer may read it a moment before.
        await Eventually.TrueAsync(() => tap.Count > 0 && relayed.FromClient.Messages == 1 && relayed.FromUpstream.Messages == 1, "the message counted and shown");

        var seen = Assert.Single(tap.Messages);
        Assert.Equal("{\"id\":1,\"method\":\"Input.dispatchMouseEvent\"}", seen.Text);
        Assert.StartsWith("cdp-relay-", seen.Thread);
        Assert.Equal(1, relayed.FromClient.Messages);
        Assert.Equal(1, relayed.FromUpstream.Messages);
        Assert.False(relayed.ClientToUpstream.IsCompleted);
    }

    [EpollFact]
    public async Task ChromiumsAttachEventsReachTheLiveViewsSessionMap_FromTheRelayThread()
    {
        var sessions = new AttachedSessions();
        using var relayed = await StartAsync(upstreamTap: new TargetAttachTap(sessions));
        var attached = Frames.Text("""{"method":"Target.attachedToTarget","params":{"sessionId":"S1","targetInfo":{"targetId":"T1","type":"page","title":"","url":"about:blank"},"waitingForDebugger":false}}""", masked: false);
        var reply = Frames.Text("""{"id":1,"result":{"sessionId":"S1"}}""", masked: false);
        var detached = Frames.Text("""{"method":"Target.detachedFromTarget","params":{"sessionId":"S1","targetId":"T1"}}""", masked: false);

        // Cut inside the method's name: the relay shows the first piece alone.
        await relayed.BrowserPeer.SendAsync(attached.AsMemory(0, 20));
        Assert.Equal(attached[..20], await ReceiveExactlyAsync(relayed.ClientPeer, 20));
        await relayed.BrowserPeer.SendAsync(attached.AsMemory(20));
        await relayed.BrowserPeer.SendAsync(reply);
        Assert.Equal(attached[20..].Concat(reply).ToArray(), await ReceiveExactlyAsync(relayed.ClientPeer, attached.Length - 20 + reply.Length));
        await Eventually.TrueAsync(() => sessions.TargetOf("S1") == "T1", "the session mapped to its target");

        await relayed.BrowserPeer.SendAsync(detached);
        Assert.Equal(detached, await ReceiveExactlyAsync(relayed.ClientPeer, detached.Length));
        await Eventually.TrueAsync(() => sessions.Count == 0, "the session unmapped");
        Assert.False(relayed.UpstreamToClient.IsCompleted);
    }

    [EpollFact]
    public async Task BytesTheClientLegAlreadyHeldGoFirst_ThenWhatFollowsOnTheSocket()
    {
        var first = Frames.Text("{\"id\":1}", masked: true);
        var second = Frames.Text("{\"id\":2}", masked: true);
        // The held bytes end in the middle of the second frame's header: the rest comes from the socket.
        var held = first.Concat(second.Take(1)).ToArray();
        using var relayed = await StartAsync(clientAlreadySent: held);

        await relayed.ClientPeer.SendAsync(second.AsMemory(1));

        Assert.Equal(first.Concat(second).ToArray(), await ReceiveExactlyAsync(relayed.BrowserPeer, first.Length + second.Length));
    }

    [EpollFact]
    public async Task AReceiverThatFallsBehindLosesNothing_AndTheSenderWaitsForIt()
    {
        using var relayed = await StartAsync();
        // Far more than the socket buffers hold: the relay must keep what the client's side does not take yet.
        var payload = new byte[24 << 20];
        new Random(7).NextBytes(payload);
        var frame = Frames.Build(FrameOpcode.Binary, payload, masked: false);

        var sending = relayed.BrowserPeer.SendAsync(frame);
        var received = await ReceiveExactlyAsync(relayed.ClientPeer, frame.Length);
        await sending.WaitAsync(Patience);

        Assert.Equal(frame, received);
        Assert.Equal(1, relayed.FromUpstream.Messages);
        Assert.Equal(payload.Length, relayed.FromUpstream.Bytes);
    }

    [EpollFact]
    public async Task AClientCloseFrameEndsItsDirectionWithItsCode_WithoutBeingForwarded()
    {
        using var relayed = await StartAsync();
        var command = Frames.Text("{\"id\":1}", masked: true);

        await relayed.ClientPeer.SendAsync(command.Concat(Frames.Close(4000, "bye", masked: true)).ToArray());

        var outcome = await relayed.ClientToUpstream.WaitAsync(Patience);
        Assert.Equal(RelayEnd.SourceClosed, outcome.End);
        Assert.Equal((WebSocketCloseStatus)4000, outcome.CloseStatus);
        Assert.Equal("bye", outcome.CloseDescription);
        Assert.Equal(WebSocketState.CloseReceived, relayed.Client.State);
        Assert.Equal(command, await ReceiveExactlyAsync(relayed.BrowserPeer, command.Length));
        Assert.Equal(0, relayed.BrowserPeer.Available);
        Assert.False(relayed.UpstreamToClient.IsCompleted);
    }

    [EpollFact]
    public async Task TheBrowserLeavingEndsItsDirection_AndAbortingTheClientEndsTheOther()
    {
        using var relayed = await StartAsync();

        relayed.BrowserPeer.Shutdown(SocketShutdown.Both);
        Assert.Equal(RelayEnd.SourceFailed, (await relayed.UpstreamToClient.WaitAsync(Patience)).End);
        relayed.Client.Abort();
        Assert.Equal(RelayEnd.SourceFailed, (await relayed.ClientToUpstream.WaitAsync(Patience)).End);
    }

    [EpollFact]
    public async Task AResetKeepsItsErrno_SoTheEndCanBeExplainedAfterwards()
    {
        using var relayed = await StartAsync();

        // Closing with a zero linger time resets the connection.
        relayed.BrowserPeer.LingerState = new LingerOption(true, 0);
        relayed.BrowserPeer.Close();

        var outcome = await relayed.UpstreamToClient.WaitAsync(Patience);
        Assert.Equal(RelayEnd.SourceFailed, outcome.End);
        Assert.Equal(104, outcome.Errno); // ECONNRESET
        Assert.Contains("errno 104", outcome.ToString());
    }

    [EpollFact]
    public async Task AMessageOverTheLimitStopsBeforeItsFrame_AndTheClientCanStillBeToldWhy()
    {
        var tap = new ThreadRecordingTap();
        using var relayed = await StartAsync(tap, maxMessageBytes: 1000);
        var small = Frames.Text("{\"id\":1}", masked: true);
        var large = Frames.Text(new string('x', 5000), masked: true);

        await relayed.ClientPeer.SendAsync(small.Concat(large).ToArray());

        var outcome = await relayed.ClientToUpstream.WaitAsync(Patience);
        Assert.Equal(RelayEnd.SourceOversize, outcome.End);
        Assert.Equal(5000, outcome.MessageBytes);
        Assert.Equal(small, await ReceiveExactlyAsync(relayed.BrowserPeer, small.Length));
        Assert.Equal(0, relayed.BrowserPeer.Available);
        // The upstream-to-client direction still runs; once it is done, the handler writes on the client's leg itself.
        relayed.Upstream.Abort();
        await relayed.UpstreamToClient.WaitAsync(Patience);
        using var timeout = new CancellationTokenSource(Patience);
        Assert.True(await relayed.Client.SendCloseAsync(WebSocketCloseStatus.MessageTooBig, "too big", timeout.Token));
        var close = Frames.Close(1009, "too big", masked: false);
        Assert.Equal(close, await ReceiveExactlyAsync(relayed.ClientPeer, close.Length));
    }

    [EpollFact]
    public async Task AClientThatBreaksTheProtocolEndsItsDirectionNamingTheRule()
    {
        using var relayed = await StartAsync();

        await relayed.ClientPeer.SendAsync(Frames.Text("{\"id\":1}", masked: false));

        var outcome = await relayed.ClientToUpstream.WaitAsync(Patience);
        Assert.Equal(RelayEnd.SourceViolation, outcome.End);
        Assert.Equal("client frames must be masked", outcome.CloseDescription);
        Assert.Equal(0, relayed.FromClient.Messages);
    }

    [EpollFact]
    public async Task ALegClosedWhileTheRelayDrivesItEndsItsDirections_InsteadOfLeavingThemWaiting()
    {
        using var relayed = await StartAsync();
        // A message through first: the relay has the legs (a leg closed before the loop takes it faults both directions).
        var frame = Frames.Text("{\"id\":1}", masked: true);
        await relayed.ClientPeer.SendAsync(frame);
        Assert.Equal(frame, await ReceiveExactlyAsync(relayed.BrowserPeer, frame.Length));

        // Closing (not just aborting) the browser's leg under a running relay: the loop shuts it down, ends what reads
        // or writes it, then closes the descriptor itself.
        var disposing = Task.Run(relayed.Upstream.Dispose);
        Assert.Equal(RelayEnd.SourceFailed, (await relayed.UpstreamToClient.WaitAsync(Patience)).End);
        await disposing.WaitAsync(Patience);
        Assert.Equal(RelayEnd.DestinationFailed, (await relayed.ClientToUpstream.WaitAsync(Patience)).End);
    }

    private sealed class ThrowingTap : IMessageTap
    {
        public bool WantsMessages => true;
        public bool Begin(ReadOnlySpan<byte> firstChunk, bool endOfMessage) => throw new InvalidOperationException("a broken observer");
        public void Append(ReadOnlySpan<byte> chunk) { }
        public void Forwarded(long timestamp) { }
        public void Abandon() { }
    }

    [EpollFact]
    public async Task AnObserverThatThrowsEndsOnlyItsOwnConnection_TheLoopRelaysTheOthers()
    {
        using var broken = await StartAsync(new ThrowingTap());
        using var healthy = await StartAsync(loop: broken.Loop);

        await broken.ClientPeer.SendAsync(Frames.Text("{\"id\":1}", masked: true));
        Assert.Equal(RelayEnd.SourceFailed, (await broken.ClientToUpstream.WaitAsync(Patience)).End);
        Assert.Equal(RelayEnd.SourceFailed, (await broken.UpstreamToClient.WaitAsync(Patience)).End);

        var frame = Frames.Text("{\"id\":2}", masked: true);
        await healthy.ClientPeer.SendAsync(frame);
        Assert.Equal(frame, await ReceiveExactlyAsync(healthy.BrowserPeer, frame.Length));
    }
}
