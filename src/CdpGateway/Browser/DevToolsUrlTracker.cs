namespace CdpGateway.Browser;

/// <summary>
/// Knows the current browser-level DevTools WebSocket URL. A new URL is stored before anyone is
/// told, so <see cref="Current"/> is never older than a notification; an unchanged URL tells nobody.
/// Subscribers get the latest URL only (a slow subscriber sees the newest value, never a stale one).
/// </summary>
public sealed class DevToolsUrlTracker
{
    private readonly Lock _gate = new();
    // A set, not a list: every connection unsubscribes when it ends, and removing from a list of
    // 10,000 subscribers is a scan under the lock every other connection's subscribe waits on.
    private readonly HashSet<Subscription> _subscribers = new(ReferenceEqualityComparer.Instance);
    private volatile string _current = "";
    private long _generation;

    /// <summary>The current normalized URL, or "" when no browser has announced itself yet.</summary>
    public string Current => _current;

    /// <summary>How many distinct URLs have been announced.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Open subscriptions; each connection holds one for its lifetime.</summary>
    public int SubscriberCount
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>Stores <paramref name="url"/> and notifies subscribers; returns false when nothing changed.</summary>
    public bool Set(string url)
    {
        var normalized = DevToolsUrl.Normalize(url);
        if (normalized.Length == 0)
        {
            return false;
        }
        // Store and broadcast under one lock so two racing updates reach every subscriber in the
        // same order they were stored in.
        lock (_gate)
        {
            if (normalized == _current)
            {
                return false;
            }
            _current = normalized;
            Interlocked.Increment(ref _generation);
            foreach (var subscriber in _subscribers)
            {
                subscriber.Deliver(normalized);
            }
        }
        return true;
    }

    /// <summary>
    /// Raised (on the reporter's thread) when something failed against a browser URL: a dial, a browser leg that
    /// ended. The handler must be quick; it only says "look now".
    /// </summary>
    public event Action<string>? FailureReported;

    /// <summary>
    /// Tells whoever watches the browser's health that <paramref name="browserUrl"/> just failed someone, so it probes at
    /// once instead of at its next round. Cheap enough for every failed dial.
    /// </summary>
    public void ReportFailure(string browserUrl) => FailureReported?.Invoke(browserUrl);

    public Subscription Subscribe()
    {
        var subscription = new Subscription(this);
        lock (_gate)
        {
            _subscribers.Add(subscription);
        }
        return subscription;
    }

    private void Unsubscribe(Subscription subscription)
    {
        lock (_gate)
        {
            _subscribers.Remove(subscription);
        }
    }

    /// <summary>
    /// One subscriber's latest-wins mailbox of URL changes. Its waiters share one task, completed (on the thread pool,
    /// never on the announcer's thread) when a URL arrives or the subscription ends; a wait nobody awaits any more
    /// costs nothing when it ends, so every connection can leave one pending until it is over.
    /// </summary>
    public sealed class Subscription : IDisposable
    {
        private readonly DevToolsUrlTracker _owner;
        private readonly Lock _gate = new();
        private string? _latest;
        private TaskCompletionSource<bool>? _waiter;
        private bool _disposed;

        internal Subscription(DevToolsUrlTracker owner) => _owner = owner;

        internal void Deliver(string url)
        {
            TaskCompletionSource<bool>? waiter;
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }
                _latest = url;
                waiter = _waiter;
                _waiter = null;
            }
            waiter?.TrySetResult(true);
        }

        /// <summary>Waits for the next announced URL; null once the subscription is disposed.</summary>
        public async ValueTask<string?> NextAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                if (TryTake(out var url))
                {
                    return url;
                }
                var waiting = WaitAsync();
                if (!waiting.IsCompleted)
                {
                    await waiting.AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                if (!await waiting.ConfigureAwait(false))
                {
                    return TryTake(out url) ? url : null;
                }
            }
        }

        /// <summary>
        /// True once a URL is there to take (<see cref="TryTake"/>), false once the subscription is disposed. Never
        /// throws: nothing to cancel, it ends with the subscription.
        /// </summary>
        public ValueTask<bool> WaitAsync()
        {
            lock (_gate)
            {
                if (_latest is not null)
                {
                    return ValueTask.FromResult(true);
                }
                if (_disposed)
                {
                    return ValueTask.FromResult(false);
                }
                _waiter ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                return new ValueTask<bool>(_waiter.Task);
            }
        }

        public bool TryTake(out string url)
        {
            lock (_gate)
            {
                url = _latest!;
                _latest = null;
                return url is not null;
            }
        }

        public void Dispose()
        {
            TaskCompletionSource<bool>? waiter;
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }
                _disposed = true;
                waiter = _waiter;
                _waiter = null;
            }
            _owner.Unsubscribe(this);
            waiter?.TrySetResult(false);
        }
    }
}
