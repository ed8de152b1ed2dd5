namespace CdpGateway.Telemetry.Stats;

/// <summary>
/// The last <see cref="Capacity"/> samples of one resolution, oldest overwritten first: one array of values and one of
/// Chromium states, both allocated once, so the ring never grows. Not thread-safe: <see cref="StatsSampler"/> locks.
/// </summary>
public sealed class StatsRing
{
    private readonly long[] _values;
    private readonly string[] _states;
    private int _next;

    public StatsRing(int capacity, TimeSpan step)
    {
        Capacity = capacity;
        Step = step;
        _values = new long[capacity * StatsColumns.Count];
        _states = new string[capacity];
    }

    public int Capacity { get; }
    public TimeSpan Step { get; }

    /// <summary>Samples held: up to <see cref="Capacity"/>.</summary>
    public int Count { get; private set; }

    /// <summary>Samples ever added, overwritten ones included.</summary>
    public long Added { get; private set; }

    /// <summary>When the newest sample's interval ended; the sample at index i of the last n covered [end - (n - i) × step, end - (n - i - 1) × step).</summary>
    public DateTimeOffset NewestEnd { get; private set; }

    /// <summary>How many values the ring's storage holds: fixed at <see cref="Capacity"/> × the column count.</summary>
    internal int StorageLength => _values.Length;

    public void Add(ReadOnlySpan<long> row, string state, DateTimeOffset end)
    {
        row.CopyTo(_values.AsSpan(_next * StatsColumns.Count, StatsColumns.Count));
        _states[_next] = state;
        _next = (_next + 1) % Capacity;
        Count = Math.Min(Count + 1, Capacity);
        Added++;
        NewestEnd = end;
    }

    /// <summary>Column <paramref name="column"/> of the newest <paramref name="last"/> samples (fewer when fewer are held), oldest first.</summary>
    public long[] Column(int column, int last)
    {
        var n = Math.Min(last, Count);
        var values = new long[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = _values[Slot(n, i) * StatsColumns.Count + column];
        }
        return values;
    }

    /// <summary>The Chromium state at the end of each of the newest <paramref name="last"/> samples, oldest first.</summary>
    public string[] States(int last)
    {
        var n = Math.Min(last, Count);
        var states = new string[n];
        for (int i = 0; i < n; i++)
        {
            states[i] = _states[Slot(n, i)];
        }
        return states;
    }

    /// <summary>The slot of the i-th of the newest n samples.</summary>
    private int Slot(int n, int i) => ((_next - n + i) % Capacity + Capacity) % Capacity;
}
