namespace CdpGateway.Browser;

/// <summary>
/// The wait before launching again after a browser died: it doubles so a browser that cannot start does not burn the
/// machine, and resets after a healthy run so one crash in a long life costs no more than the first. Deaths in a row
/// before <see cref="HealthyUptime"/> are counted, so a crash loop is reported instead of looking like bad luck.
/// Waits on the injected <see cref="TimeProvider"/>, so tests move it with their clock.
/// </summary>
internal sealed class CrashBackoff(TimeProvider time)
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan HealthyUptime = TimeSpan.FromMinutes(1);
    public const int CrashLoopThreshold = 3;

    private readonly Lock _gate = new();

    // Guarded by _gate.
    private TimeSpan _next = Initial;
    private int _consecutiveCrashes;
    private long? _nextStartAt;

    public int ConsecutiveCrashes
    {
        get
        {
            lock (_gate)
            {
                return _consecutiveCrashes;
            }
        }
    }

    /// <summary>When the next launch is due (a timestamp) while a wait is on, for the status.</summary>
    public long? NextStartAt
    {
        get
        {
            lock (_gate)
            {
                return _nextStartAt;
            }
        }
    }

    /// <summary>An operator's restart starts afresh: whatever went wrong before, it was asked for.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _next = Initial;
            _consecutiveCrashes = 0;
        }
    }

    /// <summary>Counts a browser's death; one that had been <paramref name="healthy"/> starts a new count.</summary>
    public CrashCount RecordCrash(bool healthy)
    {
        lock (_gate)
        {
            if (healthy)
            {
                _next = Initial;
                _consecutiveCrashes = 0;
            }
            _consecutiveCrashes++;
            return new CrashCount(_consecutiveCrashes >= CrashLoopThreshold, _consecutiveCrashes, _next);
        }
    }

    /// <summary>A launch that failed before there was a process counts as a death too: it is as far from a browser.</summary>
    public bool RecordFailedLaunch()
    {
        lock (_gate)
        {
            _consecutiveCrashes++;
            return _consecutiveCrashes >= CrashLoopThreshold;
        }
    }

    /// <summary>Waits out the current backoff, and doubles the next; a restart request or shutdown cuts it short.</summary>
    public async Task WaitAsync(Task request, Task shutdown, CancellationToken cancellationToken)
    {
        TimeSpan delay;
        lock (_gate)
        {
            delay = _next;
            _next = TimeSpan.FromTicks(Math.Min(_next.Ticks * 2, Max.Ticks));
        }
        using (var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var timer = Task.Delay(delay, time, wait.Token);
            lock (_gate)
            {
                // Published after the timer exists, so whoever reads it and moves a test clock moves this timer.
                _nextStartAt = time.GetTimestamp() + (long)(delay.TotalSeconds * time.TimestampFrequency);
            }
            await Task.WhenAny(timer, request, shutdown).ConfigureAwait(false);
            await wait.CancelAsync().ConfigureAwait(false);
        }
        lock (_gate)
        {
            _nextStartAt = null;
        }
    }
}

/// <summary>A death counted by <see cref="CrashBackoff"/>: whether it makes a crash loop, how many in a row, and the wait before the next launch.</summary>
internal readonly record struct CrashCount(bool CrashLoop, int InARow, TimeSpan Backoff);
