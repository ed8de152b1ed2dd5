using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using static CdpGateway.Proxy.Epoll.LinuxSockets;

namespace CdpGateway.Proxy.Epoll;

/// <summary>
/// One relay thread: its epoll set, the connections registered in it and the one buffer every read of theirs goes
/// through (an idle connection holds none). Only this thread touches its connections' relay state.
/// </summary>
public sealed unsafe class EpollLoop : IDisposable
{
    /// <summary>One read's worth: large messages move in reads of up to this much.</summary>
    public const int BufferBytes = 256 * 1024;

    private const int MaxEvents = 256;
    private const ulong WakeToken = ulong.MaxValue;

    [ThreadStatic]
    private static EpollLoop? t_running;

    private readonly ILogger _logger;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly ConcurrentQueue<EpollRelayConnection> _incoming = new();
    private readonly ConcurrentQueue<int> _freed = new();
    private readonly ConcurrentQueue<EpollRelayConnection> _kicked = new();
    private readonly ConcurrentDictionary<ulong, LoopListener> _listeners = new();
    private readonly ConcurrentQueue<(System.Net.Sockets.SafeSocketHandle Socket, LoopListener Listener)> _handedOver = new();
    private readonly Lock _slotsGate = new();
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferBytes, pinned: true);
    private readonly Stack<int> _freeSlots = new();
    private readonly Lock _wakeGate = new();
    private readonly Thread _thread;
    private LoopSocket?[] _slots = new LoopSocket?[64];
    private int _slotsUsed;
    private volatile bool _stopping;
    private bool _wakeClosed;

    /// <summary>How long <see cref="Dispose"/> waits for the thread to leave its loop before it leaves the descriptors open.</summary>
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);

    internal EpollLoop(int index, ILogger logger)
    {
        _logger = logger;
        _epoll = CreateEpoll();
        _wake = CreateEventFd();
        if (Control(_epoll, EPOLL_CTL_ADD, _wake, EPOLLIN, WakeToken) is not 0 and var errno)
        {
            LinuxSockets.Close(_wake);
            LinuxSockets.Close(_epoll);
            throw new InvalidOperationException($"epoll_ctl of the wake-up descriptor failed: errno {errno}");
        }
        _thread = new Thread(Run) { IsBackground = true, Name = $"cdp-relay-{index}" };
        _thread.Start();
    }

    internal int Epoll => _epoll;

    /// <summary>Whether the loop's thread is still running (until <see cref="Dispose"/>).</summary>
    internal bool IsRunning => _thread.IsAlive;

    /// <summary>Any thread: the listener's connections may be taken by this loop (its readiness carries <paramref name="token"/>).</summary>
    internal int Listen(LoopListener listener, ulong token)
    {
        _listeners[token] = listener;
        return Control(_epoll, EPOLL_CTL_ADD, listener.Fd, EPOLLIN | EPOLLEXCLUSIVE, token);
    }

    /// <summary>Any thread: this loop takes no more of the listener's connections (an event already fetched finds it closed).</summary>
    internal void StopListening(LoopListener listener, ulong token)
    {
        Control(_epoll, EPOLL_CTL_DEL, listener.Fd, 0, 0);
        _listeners.TryRemove(token, out _);
    }

    /// <summary>Any thread: a connection another loop accepted, to be taken up on this one (see <see cref="LoopListener"/>).</summary>
    internal void HandOver(System.Net.Sockets.SafeSocketHandle socket, LoopListener listener)
    {
        _handedOver.Enqueue((socket, listener));
        WakeUnlessCurrent();
    }

    internal void Add(EpollRelayConnection connection)
    {
        _incoming.Enqueue(connection);
        WakeUnlessCurrent();
    }

    /// <summary>Any thread: the relay connection is to look at its sockets' state (one was closed under it).</summary>
    internal void Kick(EpollRelayConnection connection)
    {
        _kicked.Enqueue(connection);
        WakeUnlessCurrent();
    }

    /// <summary>
    /// Work queued from the loop's own thread is taken after the current batch of events, before the loop waits again,
    /// so it needs no wake-up (an eventfd write and a pass through epoll_wait per connection otherwise).
    /// </summary>
    private void WakeUnlessCurrent()
    {
        if (t_running != this)
        {
            // Under the gate: once Dispose closed the eventfd its number may be another descriptor's.
            lock (_wakeGate)
            {
                if (!_wakeClosed)
                {
                    Signal(_wake);
                }
            }
        }
    }

    /// <summary>
    /// Any thread but the loop's: the thread leaves its loop after the batch at hand, then the epoll set and the eventfd
    /// are closed. Nothing may be left on the loop (see <see cref="EpollRelay.Dispose"/>).
    /// </summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        WakeUnlessCurrent();
        if (t_running == this || !_thread.Join(StopWait))
        {
            // Still in a handler: its descriptors stay open rather than be closed under it (the thread is a background one).
            return;
        }
        lock (_wakeGate)
        {
            _wakeClosed = true;
            LinuxSockets.Close(_wake);
        }
        LinuxSockets.Close(_epoll);
    }

    /// <summary>Any thread: a slot for a new socket (its events carry the slot's number).</summary>
    internal int Allocate(LoopSocket socket)
    {
        lock (_slotsGate)
        {
            if (!_freeSlots.TryPop(out int slot))
            {
                if (_slotsUsed == _slots.Length)
                {
                    var larger = new LoopSocket?[_slots.Length * 2];
                    _slots.CopyTo(larger, 0);
                    Volatile.Write(ref _slots, larger);
                }
                slot = _slotsUsed++;
            }
            Volatile.Write(ref _slots[slot], socket);
            return slot;
        }
    }

    /// <summary>
    /// Any thread, after the socket left the epoll set: the slot is emptied and reused only between batches of
    /// events on the loop's thread, so an event already fetched for the old socket cannot reach a new one.
    /// </summary>
    internal void Free(int slot)
    {
        _freed.Enqueue(slot);
        WakeUnlessCurrent();
    }

    private void Run()
    {
        t_running = this;
        // One loop per layout, chosen once: each is compiled for its struct, so reading an event costs no branch.
        if (Layout == EpollEventLayout.Packed)
        {
            Run<PackedEpollEvent>();
        }
        else
        {
            Run<AlignedEpollEvent>();
        }
    }

    private void Run<TEvent>() where TEvent : unmanaged, IEpollEvent
    {
        var events = stackalloc TEvent[MaxEvents];
        while (!_stopping)
        {
            TakeQueued();
            int count = EpollWait(_epoll, events, MaxEvents, -1);
            if (count < 0)
            {
                // EINTR (a signal); nothing else is expected from a valid epoll descriptor.
                continue;
            }
            for (int i = 0; i < count; i++)
            {
                ulong data = events[i].Data;
                if (data == WakeToken)
                {
                    Drain(_wake);
                    continue;
                }
                if (data >= LoopListener.FirstToken)
                {
                    if (_listeners.TryGetValue(data, out var listener))
                    {
                        listener.OnAcceptable(this);
                    }
                    continue;
                }
                if (Volatile.Read(ref _slots)[(int)data] is { } target)
                {
                    try
                    {
                        target.OnEvent(events[i].Events, _buffer);
                    }
                    catch (Exception ex)
                    {
                        // A fault of ours must not end the loop (and the process with it): the relay already ends the
                        // connection it was on; this only keeps the other connections going.
                        ReportFault(target.Fd, ex);
                    }
                }
            }
        }
    }

    /// <summary>Loop thread: an event handler threw (a fault of ours); the loop goes on.</summary>
    internal void ReportFault(int fd, Exception ex) =>
        _logger.LogError(ex, "The relay loop {Loop} caught a fault handling an event for socket {Fd}; it goes on with its other sockets",
            _thread.Name, fd);

    /// <summary>
    /// Between batches: relays to start and connections kicked, until none is left (starting one may queue another from
    /// this thread, which nothing would wake the loop for).
    /// </summary>
    private void TakeQueued()
    {
        while (!_incoming.IsEmpty || !_kicked.IsEmpty || !_handedOver.IsEmpty)
        {
            while (_handedOver.TryDequeue(out var handed))
            {
                handed.Listener.Deliver(handed.Socket, this);
            }
            while (_incoming.TryDequeue(out var connection))
            {
                connection.Attach(_buffer);
            }
            while (_kicked.TryDequeue(out var connection))
            {
                connection.OnEvent(0, 0, _buffer);
            }
        }
        FreeSlots();
    }

    private void FreeSlots()
    {
        if (_freed.IsEmpty)
        {
            return;
        }
        lock (_slotsGate)
        {
            while (_freed.TryDequeue(out int slot))
            {
                _slots[slot] = null;
                _freeSlots.Push(slot);
            }
        }
    }
}
