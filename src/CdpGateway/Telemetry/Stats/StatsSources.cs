using CdpGateway.Browser;
using CdpGateway.Proxy;
using CdpGateway.Telemetry.Metrics;

namespace CdpGateway.Telemetry.Stats;

/// <summary>
/// Reads the running totals a stats sample is the difference of, from where <c>/metrics</c> reads them: the metrics'
/// own counts (connections, ends by reason, reported commands), <see cref="OpenConnections"/> (messages and bytes, ended
/// connections plus the open ones now), the limiter (connections open) and the browser's owner. A graph and a scrape
/// therefore agree. Chromium's changes are its <c>chromium_*</c> events, read from the event stream on each sample.
/// </summary>
public sealed class StatsSources(GatewayMetrics metrics, OpenConnections open, ConnectionLimiter limiter, IChromiumControl chromium, EventStream events)
{
    private readonly EventStreamReader _chromiumEvents = events.CreateReader(events.Seq);
    private long _chromiumChanges;

    /// <summary>Writes the running totals (and the open connections) into <paramref name="totals"/>; returns Chromium's state now.</summary>
    public string Read(Span<long> totals)
    {
        totals[StatsColumns.ConnectionsOpen] = limiter.Open;
        totals[StatsColumns.Connects] = metrics.ConnectionsTotal;
        foreach (var reason in DisconnectReasons.All)
        {
            totals[StatsColumns.Ends(reason)] = metrics.Disconnects(reason);
        }
        var traffic = open.Traffic();
        totals[StatsColumns.MessagesFromClient] = traffic.MessagesFromClient;
        totals[StatsColumns.MessagesFromUpstream] = traffic.MessagesFromUpstream;
        totals[StatsColumns.BytesFromClient] = traffic.BytesFromClient;
        totals[StatsColumns.BytesFromUpstream] = traffic.BytesFromUpstream;
        totals[StatsColumns.Commands] = metrics.CommandsTotal;
        totals[StatsColumns.ChromiumChanges] = CountChromiumEvents();
        return chromium.Status.State;
    }

    /// <summary>Every start, readiness, exit, loss and return of reachability is one change of the browser's state.</summary>
    private long CountChromiumEvents()
    {
        while (true)
        {
            var batch = _chromiumEvents.TryRead(EventStream.DefaultCapacity);
            if (batch.Events.Count == 0)
            {
                return _chromiumChanges;
            }
            foreach (var envelope in batch.Events)
            {
                if (envelope.Type is ChromiumEventTypes.Started or ChromiumEventTypes.Ready or ChromiumEventTypes.Exited or ChromiumEventTypes.Unreachable or ChromiumEventTypes.Reachable)
                {
                    _chromiumChanges++;
                }
            }
        }
    }
}
