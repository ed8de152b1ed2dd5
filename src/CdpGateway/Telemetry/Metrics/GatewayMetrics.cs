using System.Diagnostics.Metrics;
using CdpGateway.Browser;
using CdpGateway.Hosting;
using CdpGateway.Proxy;
using CdpGateway.Telemetry.Commands;

namespace CdpGateway.Telemetry.Metrics;

/// <summary>
/// The gateway's instruments on its own <see cref="Meter"/> named <see cref="MeterName"/>, which <c>GET /metrics</c>
/// shows and any other exporter attached to the gateway's MeterProvider sends: connections, their ends by reason, what
/// they relayed, reported commands by method, the event stream, the browser, and the histograms an operator graphs.
/// The counts do not depend on the telemetry config (turning a category off stops its events, not its counts), except
/// the command counts, which are of commands reported as <c>cdp_command</c> and so need the control category on.
/// </summary>
/// <remarks>
/// Nothing here is touched per relayed message. The counters are observable: their values live in this class (one
/// interlocked increment per connection, per connection end, per reported command) or elsewhere (the limiter, the event
/// stream, the browser, <see cref="OpenConnections"/>) and are read when a collection asks, so every label value is
/// present from the start. Messages and bytes are live: the ended connections' totals plus the open ones' counters now.
/// Two gateways in one process each have a Meter object of their own; <see cref="GatewayMetricsSetup"/> makes each
/// gateway's MeterProvider drop every other gateway's instruments, so they never share counts.
/// </remarks>
public sealed class GatewayMetrics
{
    public const string MeterName = "CdpGateway";

    /// <summary>Connection lifetimes: a quick probe to an hour-long automation session.</summary>
    internal static readonly double[] ConnectionDurationBuckets = [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600];

    /// <summary>The browser leg's dial: sub-millisecond on loopback up to the dial retry window while Chromium restarts.</summary>
    internal static readonly double[] DialDurationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>One phase of a requested restart: a millisecond of the gateway's own steps up to a slow browser start.</summary>
    internal static readonly double[] RestartPhaseBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>Forward to <c>cdp_command</c> published: tens of microseconds when the worker keeps up, up to the 1 s drain.</summary>
    internal static readonly double[] PublishLagBuckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

    private static readonly string[] Targets = [UpgradeTarget.BrowserKind, UpgradeTarget.PageKind];

    private readonly TimeProvider _time;
    private readonly long[] _connectionsByTarget = new long[Targets.Length];
    private readonly long[] _disconnectsByReason = new long[DisconnectReasons.All.Count];
    private readonly long[] _commands = new long[CdpMethods.All.Count];
    private long _telemetryDropped;
    private long _telemetryExcluded;
    private readonly Histogram<double> _connectionDuration;
    private readonly Histogram<double> _dialDuration;
    private readonly Histogram<double> _restartPhase;
    private readonly Histogram<double> _publishLag;

    public GatewayMetrics(IMeterFactory meters, ConnectionLimiter limiter, IChromiumControl chromium, EventStream events, OpenConnections open,
        TimeProvider time)
    {
        _time = time;
        Meter = meters.Create(new MeterOptions(MeterName) { Version = GatewayVersion.Version });
        var m = Meter;

        m.CreateObservableCounter("cdp_gateway_connections_total", () => ByLabel(_connectionsByTarget, "target", Targets),
            description: "CDP WebSocket connections accepted (each has its cdp_connect), by target: browser or page.");
        m.CreateObservableCounter("cdp_gateway_disconnects_total", () => ByLabel(_disconnectsByReason, "reason", DisconnectReasonNames),
            description: "CDP connections ended (each has its cdp_disconnect), by reason.");
        m.CreateObservableCounter("cdp_gateway_messages_total", () => Sides(open.Traffic(), bytes: false),
            description: "WebSocket data messages relayed (ended connections and the open ones so far), by the side that sent them.");
        m.CreateObservableCounter("cdp_gateway_bytes_total", () => Sides(open.Traffic(), bytes: true),
            description: "Payload bytes of data messages relayed (ended connections and the open ones so far), by the side that sent them.");
        m.CreateObservableCounter("cdp_gateway_telemetry_dropped_total", () => Interlocked.Read(ref _telemetryDropped),
            description: "Browser-control commands that could not be reported (full queue, malformed, publisher failure), of ended connections.");
        m.CreateObservableCounter("cdp_gateway_telemetry_excluded_total", () => Interlocked.Read(ref _telemetryExcluded),
            description: "Browser-control commands not reported because their method is excluded, of ended connections.");
        m.CreateObservableGauge("cdp_gateway_connections_open", () => (long)limiter.Open, description: "CDP connections open now.");
        m.CreateObservableGauge("cdp_gateway_connections_queued", () => (long)limiter.Queued,
            description: "CDP upgrades waiting for a connection slot now (--queue).");
        m.CreateObservableCounter("cdp_gateway_connections_rejected_total", () => Rejected(limiter),
            description: "CDP upgrades refused with 429 for want of a slot, by cause: limit (no queue), queue_full, queue_timeout.");
        m.CreateObservableCounter("cdp_gateway_cdp_commands_total", () => ByLabel(_commands, "method", CdpMethodNames),
            description: "Browser-control commands reported as cdp_command, by method (counted while control telemetry is on).");
        m.CreateObservableCounter("cdp_gateway_events_total", () => events.Seq, description: "Telemetry events published (the stream's current seq).");
        m.CreateObservableCounter("cdp_gateway_events_dropped_total", () => events.DroppedEvents,
            description: "Telemetry events lost (the stream's dropped_events).");
        m.CreateObservableGauge("cdp_gateway_chromium_up", () => chromium.IsReady ? 1L : 0L,
            description: "1 while the browser answers (what GET /health calls ready), else 0.");
        m.CreateObservableGauge("cdp_gateway_chromium_generation", () => chromium.Status.Generation,
            description: "The current browser's generation (grows by one per start).");
        m.CreateObservableCounter("cdp_gateway_chromium_restarts_total", () => chromium.Status.Restarts,
            description: "Browser restarts (crashes and requested restarts).");
        m.CreateObservableGauge("cdp_gateway_build_info", () => new Measurement<long>(1,
                new KeyValuePair<string, object?>("version", GatewayVersion.Version), new KeyValuePair<string, object?>("commit", GatewayVersion.Commit)),
            description: "Always 1: the gateway's version and the commit it was built from.");

        _connectionDuration = Seconds(m, "cdp_gateway_connection_duration_seconds", ConnectionDurationBuckets,
            "CDP connections' lifetimes, cdp_connect to the end cdp_disconnect reports, by its reason.");
        _dialDuration = Seconds(m, "cdp_gateway_dial_duration_seconds", DialDurationBuckets,
            "Dials of a connection's browser leg (retries within the 5 s dial window included), by outcome: ok or failed.");
        _restartPhase = Seconds(m, "cdp_gateway_chromium_restart_phase_seconds", RestartPhaseBuckets,
            "Requested browser restarts' phases (the restart answer's phases), by phase.");
        _publishLag = Seconds(m, "cdp_gateway_cdp_command_publish_lag_seconds", PublishLagBuckets,
            "From a command's forward to the browser to its cdp_command being published.");
    }

    /// <summary>This gateway's Meter: the only one named <see cref="MeterName"/> whose instruments its MeterProvider keeps.</summary>
    public Meter Meter { get; }

    private static readonly string[] DisconnectReasonNames = [.. DisconnectReasons.All.Select(r => r.WireName())];
    private static readonly string[] CdpMethodNames = [.. CdpMethods.All.Select(m => m.Name())];

    /// <summary>Connections accepted so far, every target: what <c>cdp_gateway_connections_total</c> adds up to.</summary>
    public long ConnectionsTotal => Sum(_connectionsByTarget);

    /// <summary>Connections ended so far for <paramref name="reason"/>: <c>cdp_gateway_disconnects_total</c>'s value for it.</summary>
    public long Disconnects(DisconnectReason reason) => Interlocked.Read(ref _disconnectsByReason[(int)reason]);

    /// <summary>Commands reported so far, every method: what <c>cdp_gateway_cdp_commands_total</c> adds up to.</summary>
    public long CommandsTotal => Sum(_commands);

    private static long Sum(long[] counts)
    {
        long total = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            total += Interlocked.Read(ref counts[i]);
        }
        return total;
    }

    /// <summary>A connection was accepted (its <c>cdp_connect</c>).</summary>
    public void ConnectionOpened(string target) => Interlocked.Increment(ref _connectionsByTarget[target == UpgradeTarget.PageKind ? 1 : 0]);

    /// <summary>A connection ended (its <c>cdp_disconnect</c>): its reason, lifetime and telemetry losses.</summary>
    public void ConnectionEnded(CdpDisconnectData ended)
    {
        Interlocked.Increment(ref _disconnectsByReason[(int)ended.Reason]);
        Interlocked.Add(ref _telemetryDropped, ended.TelemetryDropped);
        Interlocked.Add(ref _telemetryExcluded, ended.TelemetryExcluded);
        _connectionDuration.Record(ended.DurationMs / 1000, new KeyValuePair<string, object?>("reason", ended.Reason.WireName()));
    }

    /// <summary>A connection's browser leg was dialled (retries included) in <paramref name="elapsed"/>.</summary>
    public void Dialled(TimeSpan elapsed, bool succeeded) =>
        _dialDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", succeeded ? "ok" : "failed"));

    /// <summary>A requested restart's phases, as its answer reports them (the phases it could not measure are left out).</summary>
    public void Restarted(RestartPhases phases)
    {
        Phase("stop", phases.Stop);
        Phase("launch_to_devtools", phases.LaunchToDevTools);
        Phase("devtools_to_ready", phases.DevToolsToReady);
        Phase("gateway", phases.Gateway);
        Phase("request_to_stop", phases.RequestToStop);
        Phase("stopped_to_launch", phases.StoppedToLaunch);
        Phase("ready_to_answer", phases.ReadyToAnswer);
    }

    /// <summary>
    /// A command was published as <c>cdp_command</c> (on the command worker, never the relay); <paramref name="forwardedAt"/>
    /// is its forward's timestamp. The lag takes a clock reading per reported command: it has to be taken after the publish.
    /// </summary>
    internal void CommandReported(CdpMethod method, long forwardedAt)
    {
        Interlocked.Increment(ref _commands[(int)method]);
        _publishLag.Record(_time.GetElapsedTime(forwardedAt).TotalSeconds);
    }

    private void Phase(string phase, TimeSpan? elapsed)
    {
        if (elapsed is { } e)
        {
            _restartPhase.Record(e.TotalSeconds, new KeyValuePair<string, object?>("phase", phase));
        }
    }

    private static Histogram<double> Seconds(Meter meter, string name, double[] buckets, string description) =>
        meter.CreateHistogram(name, unit: "s", description: description, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });

    private static Measurement<long>[] ByLabel(long[] counts, string label, string[] values)
    {
        var measurements = new Measurement<long>[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            measurements[i] = new Measurement<long>(Interlocked.Read(ref counts[i]), new KeyValuePair<string, object?>(label, values[i]));
        }
        return measurements;
    }

    private static Measurement<long>[] Sides(RelayTraffic traffic, bool bytes) =>
    [
        new(bytes ? traffic.BytesFromClient : traffic.MessagesFromClient, new KeyValuePair<string, object?>("from", "client")),
        new(bytes ? traffic.BytesFromUpstream : traffic.MessagesFromUpstream, new KeyValuePair<string, object?>("from", "upstream")),
    ];

    private static Measurement<long>[] Rejected(ConnectionLimiter limiter) =>
    [
        new(limiter.RefusedAtLimit, new KeyValuePair<string, object?>("cause", "limit")),
        new(limiter.RefusedQueueFull, new KeyValuePair<string, object?>("cause", "queue_full")),
        new(limiter.RefusedQueueTimeout, new KeyValuePair<string, object?>("cause", "queue_timeout")),
    ];
}
