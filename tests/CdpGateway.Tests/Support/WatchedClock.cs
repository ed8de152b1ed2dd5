using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Support;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that remembers every timer made on it (a <c>Task.Delay</c> or a
/// <c>CancellationTokenSource</c> timeout on this clock is one), when it is due and whether it has fired. The fake
/// clock fires a timer inside <see cref="FakeTimeProvider.Advance"/>, so right after an advance a test can say
/// exactly which timers have fired: "not yet" is then a fact about the clock, not a guess after a real-time wait.
/// </summary>
public sealed class WatchedClock : FakeTimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<WatchedTimer> _timers = [];

    public WatchedClock()
        : base(DateTimeOffset.UtcNow)
    {
    }

    /// <summary>Every timer made so far, oldest first.</summary>
    public IReadOnlyList<WatchedTimer> Timers
    {
        get
        {
            lock (_gate)
            {
                return [.. _timers];
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var watched = new WatchedTimer(this, dueTime);
        watched.Attach(base.CreateTimer(s =>
        {
            watched.Fire();
            callback(s);
        }, state, dueTime, period));
        lock (_gate)
        {
            _timers.Add(watched);
        }
        return watched;
    }

    /// <summary>The one timer still waiting to fire at exactly <paramref name="dueAt"/>; fails naming <paramref name="what"/> if there is none.</summary>
    public WatchedTimer SinglePendingAt(DateTimeOffset dueAt, string what)
    {
        var timers = Timers;
        var pending = timers.Where(t => t.IsPending && t.DueAt == dueAt).ToList();
        Assert.True(pending.Count == 1,
            $"{what}: expected one timer due at {dueAt:HH:mm:ss.fff}, found {pending.Count} among {string.Join("; ", timers.Where(t => t.IsPending))}");
        return pending[0];
    }
}

/// <summary>A timer on a <see cref="WatchedClock"/>: when it was armed, for how long, and whether it has fired.</summary>
public sealed class WatchedTimer : ITimer
{
    private readonly WatchedClock _clock;
    private readonly Lock _gate = new();
    private ITimer? _inner;
    private DateTimeOffset _armedAt;
    private TimeSpan _dueTime;
    private DateTimeOffset? _firedAt;
    private bool _disposed;

    internal WatchedTimer(WatchedClock clock, TimeSpan dueTime)
    {
        _clock = clock;
        _armedAt = clock.GetUtcNow();
        _dueTime = dueTime;
    }

    /// <summary>The delay it was (last) armed with.</summary>
    public TimeSpan DueTime
    {
        get
        {
            lock (_gate)
            {
                return _dueTime;
            }
        }
    }

    /// <summary>The clock's time when it is due, or null if it is not armed (an infinite due time).</summary>
    public DateTimeOffset? DueAt
    {
        get
        {
            lock (_gate)
            {
                return _dueTime == Timeout.InfiniteTimeSpan ? null : _armedAt + _dueTime;
            }
        }
    }

    /// <summary>The clock's time when it first fired, or null while it has not.</summary>
    public DateTimeOffset? FiredAt
    {
        get
        {
            lock (_gate)
            {
                return _firedAt;
            }
        }
    }

    public bool HasFired => FiredAt is not null;

    /// <summary>Armed, not fired, not disposed: it will fire once the clock reaches <see cref="DueAt"/>.</summary>
    public bool IsPending
    {
        get
        {
            lock (_gate)
            {
                return _firedAt is null && !_disposed && _dueTime != Timeout.InfiniteTimeSpan;
            }
        }
    }

    internal void Attach(ITimer inner) => _inner = inner;

    internal void Fire()
    {
        lock (_gate)
        {
            _firedAt ??= _clock.GetUtcNow();
        }
    }

    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        lock (_gate)
        {
            _armedAt = _clock.GetUtcNow();
            _dueTime = dueTime;
        }
        return _inner!.Change(dueTime, period);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }
        _inner?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    public override string ToString() => $"timer of {DueTime} due {DueAt:HH:mm:ss.fff}, {(FiredAt is { } fired ? $"fired {fired:HH:mm:ss.fff}" : "not fired")}";
}
