using static CdpGateway.Proxy.Epoll.LinuxSockets;

namespace CdpGateway.Proxy.Epoll;

/// <summary>
/// Both directions of one relayed connection on an <see cref="EpollLoop"/>. Side 0 is the client's socket, side 1
/// the browser's. A socket waits for reading while its reading direction may read (it has not ended and has no unsent
/// bytes), for writing while the other direction has unsent bytes for it, and for neither otherwise, so an idle
/// connection costs no wake-ups. A direction's task completes only after the sockets' registrations reflect its end.
/// </summary>
internal sealed class EpollRelayConnection
{
    private readonly LoopSocket _client;
    private readonly LoopSocket _upstream;
    private readonly EpollRelayDirection _toUpstream;
    private readonly EpollRelayDirection _toClient;
    private bool _detached;

    private EpollRelayConnection(LoopSocket client, LoopSocket upstream, EpollRelayDirection toUpstream, EpollRelayDirection toClient)
    {
        _client = client;
        _upstream = upstream;
        _toUpstream = toUpstream;
        _toClient = toClient;
    }

    public EpollLoop Loop => _client.Loop;
    public Task<RelayOutcome> ClientToUpstream => _toUpstream.Done;
    public Task<RelayOutcome> UpstreamToClient => _toClient.Done;

    /// <summary>Null unless both legs are sockets of the same loop.</summary>
    public static EpollRelayConnection? TryCreate(WebSocketLeg client, WebSocketLeg upstream, RelayCounters fromClient, RelayCounters fromUpstream,
        WebSocketFrameRelay.Options toUpstream, WebSocketFrameRelay.Options toClient)
    {
        if (client.LoopSocket is not { } clientSocket || upstream.LoopSocket is not { } upstreamSocket || clientSocket.Loop != upstreamSocket.Loop)
        {
            return null;
        }
        var connection = new EpollRelayConnection(clientSocket, upstreamSocket,
            new EpollRelayDirection(client, upstream, clientSocket.Fd, upstreamSocket.Fd, fromClient, toUpstream),
            new EpollRelayDirection(upstream, client, upstreamSocket.Fd, clientSocket.Fd, fromUpstream, toClient));
        toUpstream.Finish?.DrivenBy(connection);
        toClient.Finish?.DrivenBy(connection);
        return connection;
    }

    /// <summary>On the loop's thread: bytes the legs already hold go first, then the sockets wait for more.</summary>
    public void Attach(byte[] buffer)
    {
        bool clientAttached = _client.TryAttach(this, 0);
        bool upstreamAttached = _upstream.TryAttach(this, 1);
        try
        {
            if (!clientAttached || !upstreamAttached)
            {
                // A leg was closed before its relay started.
                Fault();
            }
            else
            {
                _toUpstream.ReadHeld(buffer);
                _toClient.ReadHeld(buffer);
            }
        }
        catch (Exception e)
        {
            Fault(e);
        }
        Settle();
    }

    /// <summary>On the loop's thread: readiness of one socket.</summary>
    public void OnEvent(int side, uint events, byte[] buffer)
    {
        if (_detached)
        {
            return;
        }
        var reading = side == 0 ? _toUpstream : _toClient;
        var writing = side == 0 ? _toClient : _toUpstream;
        try
        {
            if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0 && writing.HasUnsent)
            {
                writing.OnWritable(buffer);
            }
            if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && reading.MayRead)
            {
                reading.OnReadable(buffer);
            }
        }
        catch (Exception e)
        {
            Fault(e);
        }
        Settle();
    }

    /// <summary>
    /// A fault of ours (an observer is never supposed to throw): both directions end as failed reads, so the
    /// connection is reported and closed rather than left hanging.
    /// </summary>
    private void Fault(Exception? error = null)
    {
        _toUpstream.Fault(error);
        _toClient.Fault(error);
    }

    /// <summary>Registers each socket for what its directions wait for now, then tells the handler of any end.</summary>
    private void Settle()
    {
        // A socket closed under the relay: the directions that read or write it end now, so the loop can let go of it
        // (its closer waits for that).
        if (_client.CloseRequested)
        {
            _toUpstream.Fault();
            _toClient.DestinationClosed();
        }
        if (_upstream.CloseRequested)
        {
            _toClient.Fault();
            _toUpstream.DestinationClosed();
        }
        _toUpstream.FinishIfAtBoundary();
        _toClient.FinishIfAtBoundary();
        if (_toUpstream.Ended && _toClient.Ended)
        {
            if (!_detached)
            {
                _detached = true;
                if (_client.Relay == this)
                {
                    _client.Detach();
                }
                if (_upstream.Relay == this)
                {
                    _upstream.Detach();
                }
            }
        }
        else
        {
            _client.SetRelayEvents((_toUpstream.MayRead ? EPOLLIN : 0) | (_toClient.HasUnsent ? EPOLLOUT : 0));
            _upstream.SetRelayEvents((_toClient.MayRead ? EPOLLIN : 0) | (_toUpstream.HasUnsent ? EPOLLOUT : 0));
        }
        _toUpstream.Publish();
        _toClient.Publish();
    }
}
