namespace CdpGateway.Proxy.Epoll;

/// <summary>
/// Relays connections whose two legs are plain sockets on a few threads of its own, each waiting in a
/// level-triggered <c>epoll_wait</c> over its connections' sockets. A relayed message then costs one <c>recv</c> and
/// one <c>send</c> and no hand-over between threads, where the runtime's socket engine adds a speculative read that
/// fails and a completion dispatch per message (see bench/README.md, "Still missed, by how much, and why"). Frames are
/// checked, counted and observed by the same code as <see cref="WebSocketFrameRelay.CopyAsync"/>, which stays the relay
/// for any other leg.
/// <para>
/// One engine per process, started on first use: a thread per core (at most four). Set
/// <c>CDPGW_EPOLL_RELAY=0</c> to relay on the runtime's sockets instead.
/// </para>
/// </summary>
public sealed class EpollRelay
{
    internal const string SwitchVariable = "CDPGW_EPOLL_RELAY";

    private static readonly Lazy<EpollRelay?> SharedEngine = new(Create);

    private readonly EpollLoop[] _loops;
    private int _next;

    private EpollRelay(int loops)
    {
        _loops = new EpollLoop[loops];
        for (int i = 0; i < loops; i++)
        {
            _loops[i] = new EpollLoop(i);
        }
    }

    /// <summary>The process's engine, or null where it is not available or switched off.</summary>
    public static EpollRelay? Shared => SharedEngine.Value;

    /// <summary>
    /// Starts relaying both directions, or returns null when a leg is not a plain socket. Each task completes as
    /// <see cref="WebSocketFrameRelay.CopyAsync"/> would for that direction, and after it the engine no longer
    /// touches that direction's source or destination (the handler may then read or write them itself).
    /// </summary>
    public (Task<RelayOutcome> ClientToUpstream, Task<RelayOutcome> UpstreamToClient)? TryStart(WebSocketLeg client, WebSocketLeg upstream,
        RelayCounters fromClient, RelayCounters fromUpstream, WebSocketFrameRelay.Options toUpstream, WebSocketFrameRelay.Options toClient)
    {
        var connection = EpollRelayConnection.TryCreate(client, upstream, fromClient, fromUpstream, toUpstream, toClient);
        if (connection is null)
        {
            return null;
        }
        connection.Loop.Add(connection);
        return (connection.ClientToUpstream, connection.UpstreamToClient);
    }

    /// <summary>Every loop, for a listener whose connections any of them may take.</summary>
    internal IReadOnlyList<EpollLoop> Loops => _loops;

    /// <summary>The loop a new socket joins (round robin); a connection's two sockets join the same one.</summary>
    internal EpollLoop NextLoop() => _loops[(uint)Interlocked.Increment(ref _next) % (uint)_loops.Length];

    private static EpollRelay? Create()
    {
        if (!LinuxSockets.Supported || Environment.GetEnvironmentVariable(SwitchVariable) == "0")
        {
            return null;
        }
        return new EpollRelay(Math.Clamp(Environment.ProcessorCount, 1, 4));
    }
}
