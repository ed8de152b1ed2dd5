using System.Net.Sockets;
using static CdpGateway.Proxy.Epoll.LinuxSockets;

namespace CdpGateway.Proxy.Epoll;

/// <summary>
/// A listening socket in every loop's epoll set, marked exclusive so that a new connection wakes one waiting loop, which
/// accepts it and gives it to the loop whose turn it is (itself, or the other with one wake-up); from there the request,
/// the upgrade, the dial and the relay of that connection take no hand-over between threads (the runtime's accept
/// took one thread of its engine and a wake-up per connection, Kestrel's dispatch several).
/// </summary>
internal sealed class LoopListener
{
    /// <summary>Listener tokens start here, above every socket slot and below the loops' wake-up token.</summary>
    public const ulong FirstToken = 1UL << 40;

    /// <summary>How many connections one readiness takes at most, so the loop's relays are not kept waiting.</summary>
    private const int AcceptsPerEvent = 16;

    /// <summary>Out of descriptors or memory: the loops stop taking connections for this long, instead of spinning.</summary>
    private static readonly TimeSpan BackOff = TimeSpan.FromMilliseconds(100);

    private static long s_lastToken;

    private readonly Socket _socket;
    private readonly EpollRelay _engine;
    private readonly Action<SafeSocketHandle, EpollLoop> _accepted;
    private readonly Action<string> _warn;
    private readonly ulong _token = FirstToken + (ulong)Interlocked.Increment(ref s_lastToken);
    private readonly Lock _gate = new();
    private bool _listening;
    private bool _closed;
    private int _backingOff;

    /// <param name="accepted">Called on the accepting loop's thread with each new connection (it must not block).</param>
    public LoopListener(Socket socket, EpollRelay engine, Action<SafeSocketHandle, EpollLoop> accepted, Action<string> warn)
    {
        _socket = socket;
        _engine = engine;
        _accepted = accepted;
        _warn = warn;
        Fd = (int)socket.SafeHandle.DangerousGetHandle();
        MakeNonBlocking(Fd);
        Listen();
    }

    public int Fd { get; }

    /// <summary>Loop thread: connections are waiting.</summary>
    public void OnAcceptable(EpollLoop loop)
    {
        bool held = false;
        try
        {
            // The descriptor stays this listener's while it is used here, even if Close runs meanwhile.
            _socket.SafeHandle.DangerousAddRef(ref held);
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        try
        {
            for (int i = 0; i < AcceptsPerEvent; i++)
            {
                int fd = Accept(Fd);
                if (fd >= 0)
                {
                    Take(fd, loop);
                    continue;
                }
                int errno = -fd;
                if (errno is EMFILE or ENFILE or ENOBUFS or ENOMEM)
                {
                    PauseAfter(errno);
                    return;
                }
                if (errno == EAGAIN)
                {
                    return;
                }
                // ECONNABORTED, EINTR, a protocol error on one connection: take the next.
            }
        }
        finally
        {
            if (held)
            {
                _socket.SafeHandle.DangerousRelease();
            }
        }
    }

    /// <summary>Takes the listener off every loop; the socket itself is disposed by the caller.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            Unlisten();
        }
    }

    /// <summary>
    /// The connection goes to the loop whose turn it is, as sockets are placed everywhere else, whichever loop accepted
    /// it: keeping it on the accepting loop saves a wake-up for half of them but measured worse at 64 busy connections
    /// (see bench/README.md, "Where the gateway stands (last run) and what the profile says"), and the kernel's
    /// choice of loop (EPOLLEXCLUSIVE wakes whichever waits) is no fair share.
    /// </summary>
    private void Take(int fd, EpollLoop accepting)
    {
        var socket = new SafeSocketHandle(fd, ownsHandle: true);
        var target = _engine.NextLoop();
        if (target == accepting)
        {
            Deliver(socket, target);
        }
        else
        {
            target.HandOver(socket, this);
        }
    }

    /// <summary>On <paramref name="loop"/>'s thread: the connection starts there.</summary>
    internal void Deliver(SafeSocketHandle socket, EpollLoop loop)
    {
        try
        {
            _accepted(socket, loop);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            socket.Dispose();
        }
    }

    /// <summary>Readiness is level-triggered: with no descriptor to take it, each loop would spin on it.</summary>
    private void PauseAfter(int errno)
    {
        if (Interlocked.Exchange(ref _backingOff, 1) != 0)
        {
            return;
        }
        lock (_gate)
        {
            Unlisten();
        }
        _warn($"cannot accept CDP connections ({(errno is EMFILE or ENFILE ? "out of file descriptors" : "out of memory")}): pausing accepts for {BackOff.TotalMilliseconds} ms");
        _ = ResumeAsync();
    }

    private async Task ResumeAsync()
    {
        // Real time: this paces the kernel's resources, not anything a test or a user sees.
        await Task.Delay(BackOff, TimeProvider.System).ConfigureAwait(false);
        lock (_gate)
        {
            if (!_closed)
            {
                Listen();
            }
        }
        Volatile.Write(ref _backingOff, 0);
    }

    private void Listen()
    {
        if (_listening)
        {
            return;
        }
        foreach (var loop in _engine.Loops)
        {
            if (loop.Listen(this, _token) is not 0 and var errno)
            {
                throw new InvalidOperationException($"epoll_ctl of the CDP port's listener failed: errno {errno}");
            }
        }
        _listening = true;
    }

    private void Unlisten()
    {
        if (!_listening)
        {
            return;
        }
        foreach (var loop in _engine.Loops)
        {
            loop.StopListening(this, _token);
        }
        _listening = false;
    }
}
