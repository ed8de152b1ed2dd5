namespace CdpGateway.Proxy;

/// <summary>How a request for a connection slot ended.</summary>
public enum SlotOutcome
{
    /// <summary>The caller holds a slot and gives it back with <see cref="ConnectionLimiter.Exit"/>.</summary>
    Admitted,

    /// <summary>Every slot is taken and there is no queue.</summary>
    AtLimit,

    /// <summary>Every slot is taken and the queue holds as many waiters as it may.</summary>
    QueueFull,

    /// <summary>No slot came free within the queue timeout.</summary>
    QueueTimeout,

    /// <summary>The waiter went away (its client left) before a slot came free.</summary>
    Abandoned,

    /// <summary>The gateway began stopping while the waiter was queued.</summary>
    ShuttingDown,
}

/// <summary>
/// Counts open client connections against --max-connections and, with --queue, lets those beyond it wait for a slot
/// in arrival order for up to --queue-timeout. A freed slot passes straight to the oldest waiter, so nobody who
/// arrives later takes it first.
/// </summary>
/// <remarks>
/// Without a queue the count is lock-free, as it always was. With one, taking and giving back a slot go through one
/// lock, so that a slot given back and a waiter joining cannot miss each other; that is once per connection, never per
/// relayed message.
/// </remarks>
public sealed class ConnectionLimiter
{
    private readonly int _max;
    private readonly int _queueCapacity;
    private readonly TimeSpan _queueTimeout;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private int _open;
    private int _queued;
    private long _refusedAtLimit;
    private long _refusedQueueFull;
    private long _refusedQueueTimeout;

    public ConnectionLimiter(int max, int queueCapacity = 0, TimeSpan queueTimeout = default, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(queueCapacity);
        _max = max;
        _queueCapacity = queueCapacity;
        _queueTimeout = queueTimeout;
        _time = time ?? TimeProvider.System;
    }

    public int Open => Volatile.Read(ref _open);

    /// <summary>Waiters in the queue now.</summary>
    public int Queued => Volatile.Read(ref _queued);

    public bool HasQueue => _queueCapacity > 0;

    /// <summary>Requests refused at once because every slot was taken and there is no queue.</summary>
    public long RefusedAtLimit => Interlocked.Read(ref _refusedAtLimit);

    public long RefusedQueueFull => Interlocked.Read(ref _refusedQueueFull);

    public long RefusedQueueTimeout => Interlocked.Read(ref _refusedQueueTimeout);

    /// <summary>Takes a slot only if one is free now and nobody is waiting for one; never waits, never counts a refusal.</summary>
    public bool TryEnter()
    {
        if (_queueCapacity == 0)
        {
            if (Interlocked.Increment(ref _open) <= _max)
            {
                return true;
            }
            Interlocked.Decrement(ref _open);
            return false;
        }
        lock (_gate)
        {
            return TryTakeFreeSlot();
        }
    }

    /// <summary>
    /// Takes a slot, waiting in the queue when every slot is taken. <paramref name="gone"/> is the waiter's client going
    /// away; <paramref name="stopping"/> the gateway stopping. Either, like the timeout, takes the waiter out of the
    /// queue at once.
    /// </summary>
    public ValueTask<SlotOutcome> EnterAsync(CancellationToken gone = default, CancellationToken stopping = default)
    {
        if (_queueCapacity == 0)
        {
            if (TryEnter())
            {
                return new(SlotOutcome.Admitted);
            }
            Interlocked.Increment(ref _refusedAtLimit);
            return new(SlotOutcome.AtLimit);
        }
        Waiter waiter;
        lock (_gate)
        {
            if (TryTakeFreeSlot())
            {
                return new(SlotOutcome.Admitted);
            }
            if (stopping.IsCancellationRequested)
            {
                return new(SlotOutcome.ShuttingDown);
            }
            if (gone.IsCancellationRequested)
            {
                return new(SlotOutcome.Abandoned);
            }
            if (_waiters.Count >= _queueCapacity)
            {
                Interlocked.Increment(ref _refusedQueueFull);
                return new(SlotOutcome.QueueFull);
            }
            waiter = new Waiter(this);
            waiter.Node = _waiters.AddLast(waiter);
            Volatile.Write(ref _queued, _waiters.Count);
        }
        // Armed outside the lock: a token already cancelled runs its callback here, and that callback takes the lock.
        waiter.Arm(_time, _queueTimeout, gone, stopping);
        return new(waiter.Outcome);
    }

    /// <summary>Gives a slot back: to the oldest waiter when there is one, otherwise to the free count.</summary>
    public void Exit()
    {
        if (_queueCapacity == 0)
        {
            Interlocked.Decrement(ref _open);
            return;
        }
        Waiter? next = null;
        lock (_gate)
        {
            if (_waiters.First is { } first)
            {
                _waiters.RemoveFirst();
                Volatile.Write(ref _queued, _waiters.Count);
                next = first.Value;
            }
            else
            {
                Interlocked.Decrement(ref _open);
            }
        }
        next?.Complete(SlotOutcome.Admitted);
    }

    private bool TryTakeFreeSlot()
    {
        if (_waiters.Count > 0 || Volatile.Read(ref _open) >= _max)
        {
            return false;
        }
        Interlocked.Increment(ref _open);
        return true;
    }

    /// <summary>Takes a waiter out of the queue unless a slot or another ending got to it first.</summary>
    private void Leave(Waiter waiter, SlotOutcome outcome)
    {
        lock (_gate)
        {
            if (waiter.Node?.List is null)
            {
                return;
            }
            _waiters.Remove(waiter.Node);
            Volatile.Write(ref _queued, _waiters.Count);
            if (outcome == SlotOutcome.QueueTimeout)
            {
                Interlocked.Increment(ref _refusedQueueTimeout);
            }
        }
        waiter.Complete(outcome);
    }

    private sealed class Waiter(ConnectionLimiter limiter)
    {
        // Asynchronous continuations: whoever frees a slot (a connection ending, possibly on an epoll loop's thread)
        // must not run the next connection's handler inline.
        private readonly TaskCompletionSource<SlotOutcome> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _armGate = new();
        private ITimer? _timer;
        private CancellationTokenRegistration _gone;
        private CancellationTokenRegistration _stopping;
        private bool _completed;

        public LinkedListNode<Waiter>? Node { get; set; }

        public Task<SlotOutcome> Outcome => _outcome.Task;

        public void Arm(TimeProvider time, TimeSpan timeout, CancellationToken gone, CancellationToken stopping)
        {
            var timer = time.CreateTimer(static s => ((Waiter)s!).End(SlotOutcome.QueueTimeout), this, timeout, Timeout.InfiniteTimeSpan);
            var goneRegistration = gone.UnsafeRegister(static s => ((Waiter)s!).End(SlotOutcome.Abandoned), this);
            var stoppingRegistration = stopping.UnsafeRegister(static s => ((Waiter)s!).End(SlotOutcome.ShuttingDown), this);
            lock (_armGate)
            {
                if (!_completed)
                {
                    _timer = timer;
                    _gone = goneRegistration;
                    _stopping = stoppingRegistration;
                    return;
                }
            }
            // Admitted (or ended) while being armed: nothing is left to watch for.
            timer.Dispose();
            goneRegistration.Unregister();
            stoppingRegistration.Unregister();
        }

        private void End(SlotOutcome outcome) => limiter.Leave(this, outcome);

        public void Complete(SlotOutcome outcome)
        {
            ITimer? timer;
            lock (_armGate)
            {
                _completed = true;
                timer = _timer;
            }
            timer?.Dispose();
            _gone.Unregister();
            _stopping.Unregister();
            _outcome.TrySetResult(outcome);
        }
    }
}
