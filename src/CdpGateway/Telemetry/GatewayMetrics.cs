using CdpGateway.Browser;
using CdpGateway.Proxy;
using CdpGateway.Telemetry.Commands;
using Prometheus;

namespace CdpGateway.Telemetry;

/// <summary>
/// The counts a Prometheus scrape of <c>GET /metrics</c> reads: connections, their ends by reason, what they relayed,
/// reported commands by method, the event stream and the browser. They do not depend on the telemetry config (turning
/// a category off stops its events, not its counts), except the command counts, which are of commands reported as
/// <c>cdp_command</c> and so need the control category on.
/// </summary>
/// <remarks>
/// Nothing here is touched per relayed message: a connection's messages and bytes are added when it ends (so a
/// scrape shows finished connections' traffic), a reported command costs one interlocked increment on the command
/// worker, and the live values (open connections, browser, event stream) are read when a scrape asks. Each gateway has
/// a registry of its own, so two gateways in one process never share counts.
/// </remarks>
public sealed class GatewayMetrics
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly Counter _connections;
    private readonly Counter.Child[] _disconnectsByReason;
    private readonly Counter.Child _messagesFromClient;
    private readonly Counter.Child _messagesFromUpstream;
    private readonly Counter.Child _bytesFromClient;
    private readonly Counter.Child _bytesFromUpstream;
    private readonly Counter _telemetryDropped;
    private readonly Counter _telemetryExcluded;
    private readonly long[] _commands = new long[CdpMethods.All.Count];

    public GatewayMetrics(ConnectionLimiter limiter, IChromiumControl chromium, EventStream events)
    {
        var factory = Metrics.WithCustomRegistry(_registry);
        _connections = factory.CreateCounter("cdp_gateway_connections_total",
            "CDP WebSocket connections accepted (each has its cdp_connect), by target: browser or page.", "target");
        _connections.WithLabels("browser");
        _connections.WithLabels("page");
        var disconnects = factory.CreateCounter("cdp_gateway_disconnects_total",
            "CDP connections ended (each has its cdp_disconnect), by reason.", "reason");
        var byReason = new Counter.Child[DisconnectReasons.All.Count];
        foreach (var reason in DisconnectReasons.All)
        {
            byReason[(int)reason] = disconnects.WithLabels(reason.WireName());
        }
        _disconnectsByReason = byReason;
        var messages = factory.CreateCounter("cdp_gateway_messages_total",
            "WebSocket data messages relayed by connections that have ended, by the side that sent them.", "from");
        _messagesFromClient = messages.WithLabels("client");
        _messagesFromUpstream = messages.WithLabels("upstream");
        var bytes = factory.CreateCounter("cdp_gateway_bytes_total",
            "Payload bytes of data messages relayed by connections that have ended, by the side that sent them.", "from");
        _bytesFromClient = bytes.WithLabels("client");
        _bytesFromUpstream = bytes.WithLabels("upstream");
        _telemetryDropped = factory.CreateCounter("cdp_gateway_telemetry_dropped_total",
            "Browser-control commands that could not be reported (full queue, malformed, publisher failure), of ended connections.");
        _telemetryExcluded = factory.CreateCounter("cdp_gateway_telemetry_excluded_total",
            "Browser-control commands not reported because their method is excluded, of ended connections.");

        var open = factory.CreateGauge("cdp_gateway_connections_open", "CDP connections open now.");
        var queued = factory.CreateGauge("cdp_gateway_connections_queued", "CDP upgrades waiting for a connection slot now (--queue).");
        var rejected = factory.CreateCounter("cdp_gateway_connections_rejected_total",
            "CDP upgrades refused with 429 for want of a slot, by cause: limit (no queue), queue_full, queue_timeout.", "cause");
        var rejectedAtLimit = rejected.WithLabels("limit");
        var rejectedQueueFull = rejected.WithLabels("queue_full");
        var rejectedQueueTimeout = rejected.WithLabels("queue_timeout");
        var commands = factory.CreateCounter("cdp_gateway_cdp_commands_total",
            "Browser-control commands reported as cdp_command, by method (counted while control telemetry is on).", "method");
        var commandsByMethod = CdpMethods.All.Select(m => commands.WithLabels(m.Name())).ToArray();
        var seq = factory.CreateCounter("cdp_gateway_events_total", "Telemetry events published (the stream's current seq).");
        var dropped = factory.CreateCounter("cdp_gateway_events_dropped_total", "Telemetry events lost (the stream's dropped_events).");
        var up = factory.CreateGauge("cdp_gateway_chromium_up", "1 while the browser answers (what GET /health calls ready), else 0.");
        var generation = factory.CreateGauge("cdp_gateway_chromium_generation", "The current browser's generation (grows by one per start).");
        var restarts = factory.CreateCounter("cdp_gateway_chromium_restarts_total", "Browser restarts (crashes and requested restarts).");

        _registry.AddBeforeCollectCallback(() =>
        {
            open.Set(limiter.Open);
            queued.Set(limiter.Queued);
            rejectedAtLimit.IncTo(limiter.RefusedAtLimit);
            rejectedQueueFull.IncTo(limiter.RefusedQueueFull);
            rejectedQueueTimeout.IncTo(limiter.RefusedQueueTimeout);
            for (int i = 0; i < commandsByMethod.Length; i++)
            {
                commandsByMethod[i].IncTo(Interlocked.Read(ref _commands[i]));
            }
            seq.IncTo(events.Seq);
            dropped.IncTo(events.DroppedEvents);
            ChromiumStatus status = chromium.Status;
            up.Set(chromium.IsReady ? 1 : 0);
            generation.Set(status.Generation);
            restarts.IncTo(status.Restarts);
        });
    }

    /// <summary>A connection was accepted (its <c>cdp_connect</c>).</summary>
    public void ConnectionOpened(string target) => _connections.WithLabels(target).Inc();

    /// <summary>A connection ended (its <c>cdp_disconnect</c>): its reason and final counts.</summary>
    public void ConnectionEnded(CdpDisconnectData ended)
    {
        _disconnectsByReason[(int)ended.Reason].Inc();
        _messagesFromClient.Inc(ended.MessagesFromClient);
        _messagesFromUpstream.Inc(ended.MessagesFromUpstream);
        _bytesFromClient.Inc(ended.BytesFromClient);
        _bytesFromUpstream.Inc(ended.BytesFromUpstream);
        _telemetryDropped.Inc(ended.TelemetryDropped);
        _telemetryExcluded.Inc(ended.TelemetryExcluded);
    }

    /// <summary>A command was published as <c>cdp_command</c> (on the command worker).</summary>
    internal void CommandReported(CdpMethod method) => Interlocked.Increment(ref _commands[(int)method]);

    /// <summary>Writes every metric in the Prometheus text format.</summary>
    public Task WriteAsync(Stream destination, CancellationToken cancellationToken) =>
        _registry.CollectAndExportAsTextAsync(destination, cancellationToken);
}
