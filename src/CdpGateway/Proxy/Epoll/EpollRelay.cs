using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Proxy.Epoll;

/// <summary>
/// Relays connections whose two legs are plain sockets on a few threads of its own, each waiting in a
/// level-triggered <c>epoll_wait</c> over its connections' sockets. A relayed message then costs one <c>recv</c> and
/// one <c>send</c> and no hand-over between threads, where the runtime's socket engine adds a speculative read that
/// fails and a completion dispatch per message (see bench/README.md, "Still missed, by how much, and why"). Frames are
/// checked, counted and observed by the same code as <see cref="WebSocketFrameRelay.CopyAsync"/>, which stays the relay
/// for any other leg.
/// <para>
/// A singleton of the gateway's services: a thread per core (at most four), stopped when the services are disposed.
/// Where it cannot run (<see cref="OffReason"/>: not Linux, an architecture whose <c>struct epoll_event</c> it does not
/// know, or <c>CDPGW_EPOLL_RELAY=0</c>) it has no loops and <see cref="TryStart"/> leaves every connection to the
/// runtime's sockets.
/// </para>
/// </summary>
public sealed class EpollRelay : IDisposable
{
    internal const string SwitchVariable = "CDPGW_EPOLL_RELAY";

    private readonly EpollLoop[] _loops;
    private int _next;
    private int _disposed;

    /// <param name="loops">How many loop threads; 0: the relay is off.</param>
    /// <param name="logger">Where the loops report a fault of an event handler (they go on).</param>
    internal EpollRelay(int loops, ILogger logger)
    {
        _loops = new EpollLoop[loops];
        try
        {
            for (int i = 0; i < loops; i++)
            {
                _loops[i] = new EpollLoop(i, logger);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// The engine for this process: on where <paramref name="offReason"/> (see <see cref="OffReasonHere"/>) is null,
    /// with a loop per core up to four; else off, which is logged with its reason.
    /// </summary>
    public static EpollRelay Create(string? offReason, ILogger<EpollRelay> logger)
    {
        if (offReason is not null)
        {
            logger.LogInformation("Relaying on the runtime's sockets: {Reason}", offReason);
            return new EpollRelay(0, logger);
        }
        return new EpollRelay(Math.Clamp(Environment.ProcessorCount, 1, 4), logger);
    }

    /// <summary>Why the relay cannot run with these platform facts, or null when it can.</summary>
    public static string? OffReason(bool isLinux, Architecture architecture, string? switchValue) =>
        !isLinux ? "the epoll relay runs on Linux only"
        : LinuxSockets.LayoutFor(architecture) is null ? $"the epoll relay does not know struct epoll_event on {architecture} (it runs on x86-64 and arm64)"
        : switchValue == "0" ? $"{SwitchVariable}=0 switches the epoll relay off"
        : null;

    /// <summary><see cref="OffReason"/> for this process.</summary>
    public static string? OffReasonHere =>
        OffReason(OperatingSystem.IsLinux(), RuntimeInformation.ProcessArchitecture, Environment.GetEnvironmentVariable(SwitchVariable));

    /// <summary>False where the relay is off: every connection then relays on the runtime's sockets.</summary>
    public bool IsOn => _loops.Length > 0;

    /// <summary>
    /// Starts relaying both directions, or returns null when the relay is off or a leg is not a plain socket. Each task
    /// completes as <see cref="WebSocketFrameRelay.CopyAsync"/> would for that direction, and after it the engine no
    /// longer touches that direction's source or destination (the handler may then read or write them itself).
    /// </summary>
    public (Task<RelayOutcome> ClientToUpstream, Task<RelayOutcome> UpstreamToClient)? TryStart(WebSocketLeg client, WebSocketLeg upstream,
        RelayCounters fromClient, RelayCounters fromUpstream, WebSocketFrameRelay.Options toUpstream, WebSocketFrameRelay.Options toClient)
    {
        if (!IsOn)
        {
            return null;
        }
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
    internal EpollLoop NextLoop() => IsOn
        ? _loops[(uint)Interlocked.Increment(ref _next) % (uint)_loops.Length]
        : throw new InvalidOperationException("the epoll relay is off");

    /// <summary>
    /// Stops the loop threads and closes their descriptors. The gateway's services are disposed after the gateway
    /// stopped: its listener is closed and its connections have ended, so no socket is left on the loops.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        foreach (var loop in _loops)
        {
            loop?.Dispose();
        }
    }
}
