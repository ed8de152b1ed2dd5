using System.Net.Sockets;
using static CdpGateway.Proxy.Epoll.LinuxSockets;

namespace CdpGateway.Proxy.Epoll;

/// <summary>
/// A socket whose readiness comes from an <see cref="EpollLoop"/> instead of the runtime's socket engine, for its whole
/// life: once the runtime has waited on a socket it keeps it in its own epoll set and wakes a thread of its own for
/// every packet, even while this engine relays it (a profile put that at a third of the relay's CPU). Two kinds of
/// waiter share its one registration: the relay (<see cref="EpollRelayConnection"/>, on the loop's thread, no locks)
/// and a stream's reads and writes during the handshake and the close (<see cref="WaitAsync"/>, from any thread).
/// </summary>
internal sealed class LoopSocket
{
    private readonly Lock _gate = new();
    private readonly SafeSocketHandle _handle;
    private readonly bool _held;
    private Socket? _socket;
    private TaskCompletionSource? _readWaiter;
    private TaskCompletionSource? _writeWaiter;
    private uint _relayEvents;
    private uint _registered;
    private bool _added;
    private bool _closed;
    private bool _closeRequested;
    private bool _aborted;

    /// <param name="inlineContinuations">
    /// Whether what awaits <see cref="WaitAsync"/> goes on on the thread that saw the readiness (the loop's), as the
    /// gateway's own upgrade path wants: its code never blocks, and a hand-over to the thread pool costs a wake-up of
    /// another thread per wait. False for sockets whose waiters are Kestrel's code.
    /// </param>
    public LoopSocket(Socket socket, EpollLoop loop, bool inlineContinuations = false)
        : this(socket.SafeHandle, loop, inlineContinuations, knownNonBlocking: false)
    {
        _socket = socket;
    }

    /// <summary>
    /// A descriptor the loop accepted (non-blocking already). Its <see cref="System.Net.Sockets.Socket"/> is made only
    /// if someone asks for it (Kestrel does): making one asks the kernel for the descriptor's family, type, protocol,
    /// listening state and both addresses, seven system calls a connection.
    /// </summary>
    public LoopSocket(SafeSocketHandle accepted, EpollLoop loop, bool inlineContinuations)
        : this(accepted, loop, inlineContinuations, knownNonBlocking: true)
    {
    }

    private LoopSocket(SafeSocketHandle handle, EpollLoop loop, bool inlineContinuations, bool knownNonBlocking)
    {
        _handle = handle;
        Loop = loop;
        InlineContinuations = inlineContinuations;
        // The descriptor stays open until Close lets go of it, whoever disposes the Socket: its number cannot be
        // reused under a registration or a relay step of ours.
        bool held = false;
        handle.DangerousAddRef(ref held);
        _held = held;
        Fd = (int)handle.DangerousGetHandle();
        if (!knownNonBlocking)
        {
            MakeNonBlocking(Fd);
        }
        Slot = loop.Allocate(this);
    }

    /// <summary>The socket as the runtime's type (made on first use for an accepted descriptor).</summary>
    public Socket Socket
    {
        get
        {
            lock (_gate)
            {
                return _socket ??= new Socket(_handle);
            }
        }
    }

    public EpollLoop Loop { get; }
    public int Fd { get; }
    public int Slot { get; }

    public bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>See the constructor; switched off when the socket is handed to Kestrel.</summary>
    public bool InlineContinuations { get; set; }

    /// <summary>Someone closed the socket while the relay drove it: the relay is to let go of it.</summary>
    public bool CloseRequested => Volatile.Read(ref _closeRequested);

    /// <summary>The relay connection this socket is side <see cref="RelaySide"/> of while it relays.</summary>
    public EpollRelayConnection? Relay { get; private set; }

    public int RelaySide { get; private set; }

    /// <summary>Loop thread: the relay starts driving this socket; false when it is already closed.</summary>
    public bool TryAttach(EpollRelayConnection relay, int side)
    {
        lock (_gate)
        {
            if (_closed || _closeRequested)
            {
                return false;
            }
            Relay = relay;
            RelaySide = side;
            return true;
        }
    }

    /// <summary>Loop thread: the relay is done with this socket; a close asked for meanwhile happens now.</summary>
    public void Detach()
    {
        bool close;
        lock (_gate)
        {
            Relay = null;
            _relayEvents = 0;
            Apply();
            close = _closeRequested;
        }
        if (close)
        {
            Close();
        }
    }

    /// <summary>
    /// Connects without blocking a thread and without the runtime's engine: the connect is started, the loop says when
    /// the socket is writable, and the socket's pending error says how it went.
    /// </summary>
    public async Task ConnectAsync(System.Net.IPEndPoint remote, CancellationToken cancellationToken)
    {
        if (Socket.AddressFamily == AddressFamily.InterNetworkV6 && remote.AddressFamily == AddressFamily.InterNetwork)
        {
            remote = new System.Net.IPEndPoint(remote.Address.MapToIPv6(), remote.Port);
        }
        int errno = StartConnect(Fd, remote.Serialize());
        if (errno == EINPROGRESS)
        {
            await WaitAsync(EPOLLOUT, cancellationToken).ConfigureAwait(false);
            errno = PendingError(Fd);
        }
        if (errno != 0)
        {
            throw new SocketException((int)ToSocketError(errno), $"connecting to {remote} failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    private static SocketError ToSocketError(int errno) => errno switch
    {
        111 => SocketError.ConnectionRefused,
        110 => SocketError.TimedOut,
        113 => SocketError.HostUnreachable,
        101 => SocketError.NetworkUnreachable,
        _ => SocketError.SocketError,
    };

    /// <summary>Completes when the socket is readable (or writable), has failed, or is closed; throws when cancelled.</summary>
    public Task WaitAsync(uint events, CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_gate)
        {
            if (_closed)
            {
                return Task.CompletedTask;
            }
            ref var slot = ref events == EPOLLIN ? ref _readWaiter : ref _writeWaiter;
            if (slot is not null)
            {
                throw new InvalidOperationException("a wait of this kind is already pending on the socket");
            }
            waiter = new TaskCompletionSource(InlineContinuations ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
            slot = waiter;
            Apply();
        }
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var (socket, waiter) = ((LoopSocket, TaskCompletionSource))state!;
                socket.Forget(waiter);
                waiter.TrySetCanceled(token);
            }, (this, waiter));
            waiter.Task.ContinueWith(static (_, r) => ((CancellationTokenRegistration)r!).Dispose(), registration,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return waiter.Task;
    }

    /// <summary>Loop thread: the relay's interest changed.</summary>
    public void SetRelayEvents(uint events)
    {
        if (events == _relayEvents)
        {
            return;
        }
        lock (_gate)
        {
            _relayEvents = events;
            Apply();
        }
    }

    /// <summary>Loop thread: readiness reported for this socket.</summary>
    public void OnEvent(uint events, byte[] buffer)
    {
        if (Volatile.Read(ref _closed))
        {
            // An event fetched in the same batch as the close: the descriptor is not ours any more.
            return;
        }
        Relay?.OnEvent(RelaySide, events, buffer);
        if (Volatile.Read(ref _readWaiter) is null && Volatile.Read(ref _writeWaiter) is null)
        {
            return;
        }
        TaskCompletionSource? read = null, write = null;
        lock (_gate)
        {
            if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0)
            {
                read = _readWaiter;
                _readWaiter = null;
            }
            if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0)
            {
                write = _writeWaiter;
                _writeWaiter = null;
            }
            Apply();
        }
        read?.TrySetResult();
        write?.TrySetResult();
    }

    /// <summary>
    /// Leaves the loop, lets go of the descriptor and disposes the socket; pending waits complete (the next call then
    /// fails). While the relay still drives the socket it is shut down instead, and closed by the loop once the relay has
    /// let go of it: the relay's next step sees the end rather than a descriptor that may already be someone else's, and
    /// the caller does not wait for that (a caller on the loop's own thread could not).
    /// </summary>
    public void Close()
    {
        TaskCompletionSource? read, write;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            if (Relay is { } relay)
            {
                _closeRequested = true;
                Shutdown(Fd);
                Loop.Kick(relay);
                return;
            }
            _closed = true;
            if (_added)
            {
                Control(Loop.Epoll, EPOLL_CTL_DEL, Fd, 0, 0);
                _added = false;
            }
            read = _readWaiter;
            write = _writeWaiter;
            _readWaiter = _writeWaiter = null;
        }
        read?.TrySetResult();
        write?.TrySetResult();
        Loop.Free(Slot);
        if (_held)
        {
            _handle.DangerousRelease();
        }
        Socket? socket;
        lock (_gate)
        {
            socket = _socket;
        }
        if (socket is not null)
        {
            socket.Dispose();
        }
        else if (Volatile.Read(ref _aborted))
        {
            // A reset: an aborted connection (a client that stopped reading) leaves nothing queued in the kernel.
            _handle.Dispose();
        }
        else
        {
            // What the relay or a close frame of ours left queued still reaches a client that is slow to read it.
            CloseOrderly(_handle, Fd);
        }
    }

    /// <summary>
    /// Ends both directions (pending and later reads see the end of the stream); nothing once closed. An abort: the close
    /// that follows resets the connection.
    /// </summary>
    public void ShutDown()
    {
        lock (_gate)
        {
            if (!_closed)
            {
                _aborted = true;
                Shutdown(Fd);
            }
        }
    }

    /// <summary>Bytes written and not yet acknowledged by the peer; null once closed or when that cannot be told.</summary>
    public int? UnsentBytes()
    {
        lock (_gate)
        {
            return _closed ? null : LinuxSockets.UnsentBytes(Fd);
        }
    }

    /// <summary>Whether a read would return at once: data, the end of the stream or an error is there (or it is closed).</summary>
    public bool Readable()
    {
        Span<byte> probe = stackalloc byte[1];
        lock (_gate)
        {
            return _closed || Receive(Fd, probe, MSG_PEEK | MSG_DONTWAIT) != WouldBlock;
        }
    }

    private void Forget(TaskCompletionSource waiter)
    {
        lock (_gate)
        {
            if (_readWaiter == waiter)
            {
                _readWaiter = null;
            }
            else if (_writeWaiter == waiter)
            {
                _writeWaiter = null;
            }
            Apply();
        }
    }

    /// <summary>Under the gate: registers the union of what the relay and the waiters wait for (level-triggered).</summary>
    private void Apply()
    {
        if (_closed)
        {
            return;
        }
        uint events = _relayEvents | (_readWaiter is null ? 0 : EPOLLIN) | (_writeWaiter is null ? 0 : EPOLLOUT);
        if (events == 0)
        {
            // Not merely an empty mask: a hang-up is reported whatever the mask, and nobody would take it.
            if (_added)
            {
                Control(Loop.Epoll, EPOLL_CTL_DEL, Fd, 0, 0);
                _added = false;
            }
            return;
        }
        if (_added && events == _registered)
        {
            return;
        }
        int op = !_added ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (Control(Loop.Epoll, op, Fd, events, (ulong)(uint)Slot) == 0)
        {
            _added = true;
            _registered = events;
        }
    }
}
