using System.Net;

namespace CdpGateway.Proxy;

/// <summary>
/// The client connections open now (from <c>cdp_connect</c> until their <c>cdp_disconnect</c> is published), each with
/// the two counters its relay writes, and the traffic of the connections that have ended. Registering and unregistering
/// take a lock once per connection; nothing here is touched per relayed message (the relay writes its
/// <see cref="RelayCounters"/>, which are read lock-free).
/// </summary>
/// <remarks>
/// Unregistering moves a connection's final counts into the finished totals under the same lock that
/// <see cref="Traffic"/> reads under, so a reading counts every connection exactly once: live while it is registered,
/// finished afterwards.
/// </remarks>
public sealed class OpenConnections
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, OpenConnection> _open = new(StringComparer.Ordinal);
    private RelayTraffic _finished;

    /// <summary>Registers a connection at its <c>cdp_connect</c>; its relay counts into the returned entry's counters.</summary>
    public OpenConnection Register(string connectionId, string target, string? targetId, IPEndPoint? client, DateTimeOffset connectedAt)
    {
        var entry = new OpenConnection(connectionId, target, targetId, client?.ToString(), connectedAt, new RelayCounters(), new RelayCounters());
        lock (_lock)
        {
            _open.Add(connectionId, entry);
        }
        return entry;
    }

    /// <summary>
    /// Unregisters a connection as its <c>cdp_disconnect</c> is published, adding <paramref name="final"/> (the counts that
    /// event reports) to the finished totals. An id that is not registered adds nothing.
    /// </summary>
    public void Unregister(string connectionId, RelayTraffic final)
    {
        OpenConnection? ended;
        lock (_lock)
        {
            if (_open.Remove(connectionId, out ended))
            {
                _finished += final;
            }
        }
        ended?.MarkEnded();
    }

    /// <summary>The open connection with this id, if there is one.</summary>
    public bool TryGet(string connectionId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out OpenConnection? connection)
    {
        lock (_lock)
        {
            return _open.TryGetValue(connectionId, out connection);
        }
    }

    /// <summary>The connections open now, oldest first.</summary>
    public IReadOnlyList<OpenConnection> Snapshot()
    {
        OpenConnection[] entries;
        lock (_lock)
        {
            entries = [.. _open.Values];
        }
        Array.Sort(entries, static (a, b) => a.ConnectedAt.CompareTo(b.ConnectedAt));
        return entries;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _open.Count;
            }
        }
    }

    /// <summary>Everything relayed so far: the ended connections' final counts plus the open ones' counts now.</summary>
    public RelayTraffic Traffic()
    {
        lock (_lock)
        {
            var total = _finished;
            foreach (var entry in _open.Values)
            {
                total += entry.Traffic;
            }
            return total;
        }
    }
}
