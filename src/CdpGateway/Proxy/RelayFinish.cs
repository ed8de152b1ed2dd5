using CdpGateway.Proxy.Epoll;

namespace CdpGateway.Proxy;

/// <summary>
/// The connection's request that one relay direction end at the next frame boundary of what it has written: the frame
/// in flight goes out whole, no new one starts, and the direction ends with <see cref="RelayEnd.Finished"/>. The gateway
/// asks this of the browser-to-client direction before it writes a close frame of its own, which may only go between two
/// frames. Asked once; the direction checks it per read, not per message.
/// </summary>
public sealed class RelayFinish
{
    private readonly CancellationTokenSource _idleRead = new();
    private EpollRelayConnection? _loopRelay;
    private int _requested;

    public bool Requested => Volatile.Read(ref _requested) != 0;

    /// <summary>Ends the wait of a direction on the runtime's sockets that sits idle at a frame boundary.</summary>
    internal CancellationToken IdleRead => _idleRead.Token;

    /// <summary>The epoll relay that drives the direction: a request makes its loop look at the direction at once.</summary>
    internal void DrivenBy(EpollRelayConnection relay) => _loopRelay = relay;

    public void Request()
    {
        if (Interlocked.Exchange(ref _requested, 1) != 0)
        {
            return;
        }
        if (_loopRelay is { } relay)
        {
            relay.Loop.Kick(relay);
        }
        else
        {
            _idleRead.Cancel();
        }
    }
}
