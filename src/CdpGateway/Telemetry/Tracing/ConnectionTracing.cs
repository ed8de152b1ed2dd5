using System.Diagnostics;
using System.Net;
using CdpGateway.Proxy;

namespace CdpGateway.Telemetry.Tracing;

/// <summary>
/// The gateway's spans: <c>cdp.connection</c> (one per client connection, from the 101 to its <c>cdp_disconnect</c>)
/// and its child <c>cdp.dial</c> (the browser leg's dial). One per gateway, with its own <see cref="ActivitySource"/>:
/// every gateway's source has the same name, so the exporter of one gateway in a process with several tells its own
/// spans by their source (<see cref="OwnSpansProcessor"/>). Without a listener (no <c>--otlp-endpoint</c>) every start
/// returns null and nothing is allocated; nothing here runs per relayed message.
/// </summary>
public sealed class ConnectionTracing : IDisposable
{
    public const string SourceName = "CdpGateway";
    public const string ConnectionSpan = "cdp.connection";
    public const string DialSpan = "cdp.dial";

    public ActivitySource Source { get; } = new(SourceName, typeof(ConnectionTracing).Assembly.GetName().Version?.ToString(3));

    /// <summary>
    /// Starts a connection's span, the child of the client's own trace when its upgrade carried a W3C
    /// <c>traceparent</c>, else a new trace. Null when nothing listens or the sampler declines.
    /// </summary>
    public Activity? StartConnection(string connectionId, UpgradeTarget target, IPEndPoint? peer, string? traceParent, string? traceState)
    {
        if (!Source.HasListeners())
        {
            return null;
        }
        ActivityContext parent = default;
        if (traceParent is not null)
        {
            ActivityContext.TryParse(traceParent, traceState, isRemote: true, out parent);
        }
        var activity = StartDetached(ConnectionSpan, ActivityKind.Server, parent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("cdp.connection_id", connectionId);
            activity.SetTag("cdp.target", target.TelemetryName);
            if (target.TargetId is { } targetId)
            {
                activity.SetTag("cdp.page_id", targetId);
            }
            if (peer is not null)
            {
                activity.SetTag("client.address", peer.Address.ToString());
                activity.SetTag("client.port", peer.Port);
            }
        }
        return activity;
    }

    /// <summary>Ends a connection's span with what its <c>cdp_disconnect</c> reports.</summary>
    public static void EndConnection(Activity? activity, CdpDisconnectData ended)
    {
        if (activity is null)
        {
            return;
        }
        if (activity.IsAllDataRequested)
        {
            activity.SetTag("cdp.disconnect.reason", ended.Reason.WireName());
            activity.SetTag("cdp.close_code", ended.CloseCode);
            activity.SetTag("cdp.messages.from_client", ended.MessagesFromClient);
            activity.SetTag("cdp.messages.from_upstream", ended.MessagesFromUpstream);
            activity.SetTag("cdp.bytes.from_client", ended.BytesFromClient);
            activity.SetTag("cdp.bytes.from_upstream", ended.BytesFromUpstream);
            activity.SetTag("cdp.duration_ms", ended.DurationMs);
            if (ended.Reason == DisconnectReason.UpstreamError)
            {
                activity.SetStatus(ActivityStatusCode.Error, "upstream_error");
            }
        }
        activity.Stop();
    }

    /// <summary>Starts the dial's span under the connection's; null without a connection span.</summary>
    public Activity? StartDial(Activity? connection) =>
        connection is null ? null : StartDetached(DialSpan, ActivityKind.Client, connection.Context);

    /// <summary>Ends the dial's span: where it went, how many attempts, and an error when it failed but was not called off.</summary>
    public static void EndDial(Activity? activity, DialResult dial, bool cancelled)
    {
        if (activity is null)
        {
            return;
        }
        if (activity.IsAllDataRequested)
        {
            if (Uri.TryCreate(dial.BrowserUrl, UriKind.Absolute, out var upstream))
            {
                activity.SetTag("server.address", upstream.Host);
                activity.SetTag("server.port", upstream.Port);
                activity.SetTag("cdp.upstream", upstream.Authority);
            }
            activity.SetTag("cdp.dial.attempts", dial.Attempts);
            if (!dial.Succeeded && !cancelled)
            {
                activity.SetStatus(ActivityStatusCode.Error, dial.Error);
            }
        }
        activity.Stop();
    }

    /// <summary>
    /// Starts a span with exactly the given parent (none: a new trace), and leaves <see cref="Activity.Current"/> as it
    /// was: a connection's span is ended by the background completion, not by the code that started it, and would
    /// otherwise flow into everything started from the connection's context (timers, threads) and outlive it there.
    /// </summary>
    private Activity? StartDetached(string name, ActivityKind kind, ActivityContext parent)
    {
        var ambient = Activity.Current;
        Activity.Current = null;
        try
        {
            return Source.StartActivity(name, kind, parent);
        }
        finally
        {
            Activity.Current = ambient;
        }
    }

    public void Dispose() => Source.Dispose();
}
