using System.Threading.Channels;

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
    private readonly HashSet<Channel<string>> _subscribers = new(ReferenceEqualityComparer.Instance);
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
                subscriber.Writer.TryWrite(normalized);
            }
        }
        return true;
    }

    public Subscription Subscribe()
    {
        var channel = Channel.CreateBounded<string>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            // A connection's browser watch may still have a wait pending (it ends with the subscription) while the
            // reason resolver reads: two readers, though only one ever takes URLs at a time.
            SingleReader = false,
            SingleWriter = false,
        });
        lock (_gate)
        {
            _subscribers.Add(channel);
        }
        return new Subscription(this, channel);
    }

    private void Unsubscribe(Channel<string> channel)
    {
        lock (_gate)
        {
            _subscribers.Remove(channel);
        }
        channel.Writer.TryComplete();
    }

    /// <summary>One subscriber's latest-wins mailbox of URL changes.</summary>
    public sealed class Subscription : IDisposable
    {
        private readonly DevToolsUrlTracker _owner;
        private readonly Channel<string> _channel;
        private int _disposed;

        internal Subscription(DevToolsUrlTracker owner, Channel<string> channel)
        {
            _owner = owner;
            _channel = channel;
        }

        /// <summary>Waits for the next announced URL; null once the subscription is disposed.</summary>
        public async ValueTask<string?> NextAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await _channel.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        /// <summary>
        /// True once a URL is there to take (<see cref="TryTake"/>), false once the subscription is disposed or the
        /// tracker stops. Never throws: nothing to cancel, it ends with the subscription.
        /// </summary>
        public ValueTask<bool> WaitAsync() => _channel.Reader.WaitToReadAsync(CancellationToken.None);

        public bool TryTake(out string url) => _channel.Reader.TryRead(out url!);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _owner.Unsubscribe(_channel);
            }
        }
    }
}
