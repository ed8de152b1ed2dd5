using Microsoft.Extensions.Hosting;

namespace CdpGateway.Telemetry.Stats;

/// <summary>Writes the running totals into the span and returns Chromium's state (<see cref="StatsSources.Read"/>).</summary>
public delegate string StatsRead(Span<long> totals);

/// <summary>
/// Takes one stats sample a second on a <see cref="TimeProvider"/> timer: the running totals' differences since the
/// last sample (and the connections open now) into the one-second ring (15 minutes), and every 60 of those, added up,
/// into the one-minute ring (24 hours). The two rings and four small buffers are all it holds; it never grows.
/// </summary>
public sealed class StatsSampler : IHostedService, IDisposable
{
    public static readonly TimeSpan SecondStep = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MinuteStep = TimeSpan.FromMinutes(1);
    public const int SecondCapacity = 15 * 60;
    public const int MinuteCapacity = 24 * 60;

    private readonly TimeProvider _time;
    private readonly StatsRead _read;
    private readonly Lock _lock = new();
    private readonly long[] _previous = new long[StatsColumns.Count];
    private readonly long[] _current = new long[StatsColumns.Count];
    private readonly long[] _second = new long[StatsColumns.Count];
    private readonly long[] _minute = new long[StatsColumns.Count];
    private int _secondsInMinute;
    private string _state = "";
    private ITimer? _timer;

    public StatsSampler(TimeProvider time, StatsSources sources)
        : this(time, sources.Read)
    {
    }

    internal StatsSampler(TimeProvider time, StatsRead read)
    {
        _time = time;
        _read = read;
    }

    public StatsRing Seconds { get; } = new(SecondCapacity, SecondStep);
    public StatsRing Minutes { get; } = new(MinuteCapacity, MinuteStep);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _state = _read(_previous);
            _timer ??= _time.CreateTimer(static s => ((StatsSampler)s!).Sample(), this, SecondStep, SecondStep);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _timer?.Dispose();
        }
    }

    /// <summary>Runs <paramref name="read"/> over <paramref name="ring"/> under the sampler's lock, so no sample is added halfway through it.</summary>
    public T Read<T>(StatsRing ring, Func<StatsRing, T> read)
    {
        lock (_lock)
        {
            return read(ring);
        }
    }

    /// <summary>One tick: a one-second sample, and every 60th a one-minute one.</summary>
    internal void Sample()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var state = _read(_current);
            _second[StatsColumns.ConnectionsOpen] = _current[StatsColumns.ConnectionsOpen];
            for (int i = 1; i < StatsColumns.Count; i++)
            {
                _second[i] = _current[i] - _previous[i];
            }
            // A change that happened without an event (the system category off) still shows as one.
            if (_second[StatsColumns.ChromiumChanges] == 0 && state != _state)
            {
                _second[StatsColumns.ChromiumChanges] = 1;
            }
            Seconds.Add(_second, state, now);

            _minute[StatsColumns.ConnectionsOpen] = _second[StatsColumns.ConnectionsOpen];
            for (int i = 1; i < StatsColumns.Count; i++)
            {
                _minute[i] += _second[i];
            }
            if (++_secondsInMinute == 60)
            {
                Minutes.Add(_minute, state, now);
                Array.Clear(_minute);
                _secondsInMinute = 0;
            }
            _current.CopyTo(_previous, 0);
            _state = state;
        }
    }
}
