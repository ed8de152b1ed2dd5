using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using CdpGateway.Browser;
using CdpGateway.Hosting;
using CdpGateway.Proxy.Epoll;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;
using CdpGateway.Telemetry.Metrics;
using CdpGateway.Telemetry.Tracing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Proxy;

/// <summary>
/// One client WebSocket from upgrade to <c>cdp_disconnect</c>: subscribe, read the current URL, accept,
/// <c>cdp_connect</c>, dial, relay while watching for a new browser, then on the first end pin the time, close both
/// legs, resolve the reason, <c>cdp_disconnect</c>. What it decides on the way (the client's close frame, the reason,
/// <c>close_code</c>) comes from <see cref="DisconnectRules"/>; docs/disconnect-contract.md gives the rules.
/// </summary>
public sealed class CdpConnectionHandler(
    DevToolsUrlTracker tracker,
    UpstreamDialer dialer,
    DisconnectReasonResolver resolver,
    IEventPublisher events,
    GatewayOptions options,
    ConnectionLimiter limiter,
    GatewayLifetime lifetime,
    PendingDisconnects pending,
    IChromiumControl chromium,
    CdpMessageLog messageLog,
    TelemetryConfig telemetryConfig,
    GatewayMetrics metrics,
    OpenConnections openConnections,
    TimeProvider time,
    ILogger<CdpConnectionHandler> logger,
    EpollRelay epoll,
    ConnectionTracing tracing)
{
    /// <summary>How long closing waits for a direction to finish or a close handshake to complete.</summary>
    internal static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(2);

    /// <summary>How long teardown lets queued commands be published before <c>cdp_disconnect</c>.</summary>
    internal static readonly TimeSpan CommandDrainWait = TimeSpan.FromSeconds(1);

    // The close grace bounds a peer's network silence, not product behaviour, so it runs on real time
    // even when tests drive the confirm wait and dial window with a fake clock.
    private static readonly TimeProvider NetworkClock = TimeProvider.System;

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await PlainAnswer.WriteAsync(context, StatusCodes.Status400BadRequest,
                $"{context.Request.Path} is a CDP WebSocket endpoint: connect with a WebSocket upgrade (discovery is at /json/version)").ConfigureAwait(false);
            return;
        }
        if (!limiter.TryEnter())
        {
            var slot = await WaitForSlotAsync(context).ConfigureAwait(false);
            if (slot != SlotOutcome.Admitted)
            {
                await RefuseAsync(context, slot).ConfigureAwait(false);
                return;
            }
        }
        if (!TryReadBrowser(out var subscription, out var browserUrl))
        {
            limiter.Exit();
            // As discovery answers in the same state: the client may retry within a second.
            context.Response.Headers.RetryAfter = "1";
            await PlainAnswer.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                "no browser yet: Chromium has not announced its DevTools URL; retry shortly").ConfigureAwait(false);
            return;
        }
        var peer = context.Connection.RemoteIpAddress is { } address ? new IPEndPoint(address, context.Connection.RemotePort) : null;
        await HandleAdmittedAsync(context.Request.Path.Value, context.RequestAborted, browserUrl, subscription!, peer,
            () => ClientHandshake.AcceptAsync(context), TraceHeaders.From(context.Request.Headers)).ConfigureAwait(false);
    }

    /// <summary>
    /// The CDP port's own upgrade path (a plain upgrade read on the socket's loop, see <c>LoopUpgradeAcceptor</c>): runs
    /// the connection, or returns null when the request is to go through Kestrel after all because it would be refused
    /// there (no slot is free: it waits in the queue or gets 429; or no browser is known yet: 503; all in
    /// <see cref="HandleAsync"/>).
    /// </summary>
    /// <param name="peer">The client's address, for <c>cdp_connect</c>.</param>
    /// <param name="accept">Sends the 101 and returns the client's leg.</param>
    /// <param name="trace">The request's trace context, for the connection's span.</param>
    /// <remarks>
    /// An upgrade that finds no slot free goes to Kestrel too, and waits in the queue there: the wait is asynchronous
    /// and the loop's thread is never held by it.
    /// </remarks>
    internal Task? TryHandleUpgrade(string path, IPEndPoint? peer, Func<Task<WebSocketLeg>> accept, TraceHeaders trace = default)
    {
        if (!limiter.TryEnter())
        {
            return null;
        }
        if (!TryReadBrowser(out var subscription, out var browserUrl))
        {
            limiter.Exit();
            return null;
        }
        return HandleAdmittedAsync(path, CancellationToken.None, browserUrl, subscription!, peer, accept, trace);
    }

    /// <summary>
    /// Every slot was taken on arrival: waits in the queue (when there is one) until a slot comes free, the wait runs out,
    /// the client leaves or the gateway stops. Before the 101, so no <c>cdp_connect</c> is published for a waiter.
    /// </summary>
    private async Task<SlotOutcome> WaitForSlotAsync(HttpContext context)
    {
        if (!limiter.HasQueue)
        {
            return await limiter.EnterAsync().ConfigureAwait(false);
        }
        var watch = new QueuedClientWatch(context);
        await using (watch.ConfigureAwait(false))
        {
            return await limiter.EnterAsync(watch.Gone, lifetime.Stopping).ConfigureAwait(false);
        }
    }

    private Task RefuseAsync(HttpContext context, SlotOutcome slot)
    {
        switch (slot)
        {
            case SlotOutcome.ShuttingDown:
                return PlainAnswer.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "gateway shutting down");
            case SlotOutcome.Abandoned:
                // Nobody is left to read an answer.
                context.Abort();
                return Task.CompletedTask;
        }
        var why = slot switch
        {
            SlotOutcome.QueueFull =>
                $"too many connections: the gateway holds its limit of {options.MaxConnections} (--max-connections) and its queue of {options.Queue} waiting upgrades is full (--queue)",
            SlotOutcome.QueueTimeout =>
                $"too many connections: no slot came free within {CommandLine.FormatDuration(options.QueueTimeout)} (--queue-timeout) under the limit of {options.MaxConnections} (--max-connections)",
            _ => $"too many connections: the gateway holds its limit of {options.MaxConnections} (--max-connections)",
        };
        return PlainAnswer.WriteAsync(context, StatusCodes.Status429TooManyRequests, why);
    }

    /// <summary>
    /// Takes a subscription and reads the current browser URL; gives the subscription back when there is no browser yet.
    /// Subscribing comes before reading the URL, so no change between the two is missed.
    /// </summary>
    private bool TryReadBrowser(out DevToolsUrlTracker.Subscription? subscription, out string browserUrl)
    {
        subscription = tracker.Subscribe();
        browserUrl = tracker.Current;
        if (browserUrl.Length == 0)
        {
            subscription.Dispose();
            subscription = null;
            return false;
        }
        return true;
    }

    private async Task HandleAdmittedAsync(string? path, CancellationToken requestAborted, string browserUrl, DevToolsUrlTracker.Subscription subscription,
        IPEndPoint? peer, Func<Task<WebSocketLeg>> accept, TraceHeaders trace)
    {
        try
        {
            await HandleAcceptedAsync(path, requestAborted, browserUrl, subscription, peer, accept, trace).ConfigureAwait(false);
        }
        finally
        {
            // The handler returns once the client's close handshake is over (the reason may still be
            // resolving in the background), so the slot is free as soon as the socket is.
            limiter.Exit();
        }
    }

    /// <summary>From the 101 on, whichever way the upgrade came: the connection's whole life.</summary>
    private async Task HandleAcceptedAsync(string? path, CancellationToken requestAborted, string browserUrl, DevToolsUrlTracker.Subscription subscription,
        IPEndPoint? peer, Func<Task<WebSocketLeg>> accept, TraceHeaders trace)
    {
        var target = UpgradeTarget.FromPath(path);
        var subscriptionHandedOff = false;
        try
        {
            // No pings of our own (some CDP clients break on them; TCP keepalive covers dead peers),
            // no compression: frames pass through as the peers wrote them.
            var client = await accept().ConfigureAwait(false);
            using (client)
            {
                subscriptionHandedOff = await RunAsync(path, requestAborted, client, target, browserUrl, subscription, peer, trace).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!subscriptionHandedOff)
            {
                subscription.Dispose();
            }
        }
    }

    /// <summary>Returns true when a background completion took over the subscription (and disposes it).</summary>
    private async Task<bool> RunAsync(string? path, CancellationToken requestAborted, WebSocketLeg client, UpgradeTarget target, string browserUrl,
        DevToolsUrlTracker.Subscription subscription, IPEndPoint? peer, TraceHeaders trace)
    {
        var connectionId = ConnectionId.New();
        var connectedAt = time.GetTimestamp();
        // Everything logged for this connection, also by its background completion, carries its id (the JSON log).
        using var logScope = logger.BeginScope(new ConnectionLogScope(connectionId));
        var span = tracing.StartConnection(connectionId, target, peer, trace.Parent, trace.State);
        // Registered before its cdp_connect is published: whoever saw the event finds the connection in GET /connections.
        var open = openConnections.Register(connectionId, target.TelemetryName, target.TargetId, peer, time.GetUtcNow());
        events.Publish(ConnectionEventTypes.Connect, EventCategory.Connection,
            new CdpConnectData(connectionId, target.TelemetryName, peer?.ToString()), TelemetryJsonContext.Default.CdpConnectData);
        metrics.ConnectionOpened(target.TelemetryName);
        var disconnectPublished = false;
        try
        {
            return await RelayAsync(path, requestAborted, client, target, browserUrl, subscription, open, connectedAt, span,
                () => disconnectPublished = true).ConfigureAwait(false);
        }
        catch (Exception ex) when (!disconnectPublished)
        {
            // Every cdp_connect gets its cdp_disconnect, even through a fault of ours.
            logger.LogError(ex, "Connection {ConnectionId} failed inside the gateway", connectionId);
            // No close frame after a fault of ours (CloseFor says so): the socket is aborted, so no close_code either.
            if (DisconnectRules.CloseFor(new CloseFacts(ConnectionEnd.GatewayFault)) is null)
            {
                client.Abort();
            }
            var reason = DisconnectRules.Reason(new ReasonFacts(ConnectionEnd.GatewayFault, Cancelled: lifetime.Stopping.IsCancellationRequested));
            // Its counters as far as the relay got: what /metrics already showed of it live stays counted.
            PublishDisconnect(connectionId, span, reason ?? DisconnectReason.UpstreamError, connectedAt, time.GetTimestamp(), time.GetUtcNow(),
                open.FromClient, open.FromUpstream, null);
            return false;
        }
    }

    private async Task<bool> RelayAsync(string? path, CancellationToken requestAborted, WebSocketLeg client, UpgradeTarget target, string browserUrl,
        DevToolsUrlTracker.Subscription subscription, OpenConnection open, long connectedAt, Activity? span, Action published)
    {
        var connectionId = open.ConnectionId;
        using var dialCancel = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, lifetime.Stopping);
        // The dial may last the whole dial window while Chromium restarts: the client is watched meanwhile, so one
        // that gives up is let go (and reported as leaving) at once rather than when the dial ends. This signal and
        // stopWatching below run their continuations inline: only this connection's own watch awaits them, nothing is
        // locked when they are set, and a thread-pool hop per signal costs a worker wake-up per connection.
        var dialEnded = new TaskCompletionSource();
        var leaving = ClientLeaveWatch.WatchAsync(client, options.MaxMessageBytes, dialEnded.Task);
        var dialStarted = time.GetTimestamp();
        var dialing = DialAsync(target, browserUrl, subscription, dialCancel.Token, client.LoopSocket, span);
        long? leftAt = null;
        var closedByOperator = false;
        var firstOfDial = await Task.WhenAny(dialing, leaving, open.CloseRequested).ConfigureAwait(false);
        if (firstOfDial == leaving && leaving.Result is not null)
        {
            leftAt = time.GetTimestamp();
            await dialCancel.CancelAsync().ConfigureAwait(false);
        }
        else if (firstOfDial == open.CloseRequested)
        {
            // An operator closed it while its browser was being dialled: the dial is cancelled, and a dial that won the
            // race is closed at once below, as the relay sees the same request.
            closedByOperator = true;
            await dialCancel.CancelAsync().ConfigureAwait(false);
        }
        var dial = await dialing.ConfigureAwait(false);
        metrics.Dialled(time.GetElapsedTime(dialStarted), dial.Succeeded);
        dialEnded.TrySetResult();
        if (await leaving.ConfigureAwait(false) is { } left)
        {
            open.MarkEnding();
            dial.Upstream?.Dispose();
            published();
            await EndLeftWhileDialingAsync(client, left, connectionId, span, connectedAt, leftAt ?? time.GetTimestamp()).ConfigureAwait(false);
            return false;
        }
        if (!dial.Succeeded)
        {
            open.MarkEnding();
            var failedAt = time.GetTimestamp();
            var failedWall = time.GetUtcNow();
            var cancelled = dialCancel.IsCancellationRequested;
            if (!cancelled)
            {
                logger.LogWarning("Connection {ConnectionId}: no upstream for {Path}: {Error}", connectionId, path, dial.Error);
            }
            var dialEnd = closedByOperator ? ConnectionEnd.ClosedByOperator : ConnectionEnd.DialFailed;
            var close = DisconnectRules.CloseFor(new CloseFacts(dialEnd, GatewayStopping: lifetime.Stopping.IsCancellationRequested,
                Cancelled: cancelled));
            var sentCode = close is { } frame ? await CloseClientAsync(client, frame).ConfigureAwait(false) : null;
            // Nothing reads the client here: the wait for its close reply reads it directly.
            var closeCode = await FinishClientCloseAsync(client, null, sentCode, null).ConfigureAwait(false);
            published();
            var reason = DisconnectRules.Reason(new ReasonFacts(dialEnd, Cancelled: cancelled)) ?? DisconnectReason.UpstreamError;
            PublishDisconnect(connectionId, span, reason, connectedAt, failedAt, failedWall,
                new RelayCounters(), new RelayCounters(), closeCode, cancelledBy: DisconnectRules.CancelledBy(dialEnd, reason));
            return false;
        }

        using var upstream = dial.Upstream!;
        var dialedBrowserUrl = dial.BrowserUrl;
        var fromClient = open.FromClient;
        var fromUpstream = open.FromUpstream;
        var commands = new CdpCommandRecorder(connectionId, telemetryConfig, events, time, logger, metrics);
        open.AttachCommands(commands);
        var toUpstream = new WebSocketFrameRelay.Options(options.MaxMessageBytes, time,
            options.LogCdpMessages ? new WebSocketFrameRelay.MessageLogging(messageLog, connectionId, "->") : null, commands);
        var finishToClient = new RelayFinish();
        // Only the live view needs to know which target a client's session drives: without it this direction has no tap.
        TargetAttachTap? attachTap = null;
        if (options.LiveView)
        {
            var sessions = new AttachedSessions();
            open.AttachSessions(sessions);
            attachTap = new TargetAttachTap(sessions);
        }
        var toClient = new WebSocketFrameRelay.Options(options.MaxMessageBytes, time,
            options.LogCdpMessages ? new WebSocketFrameRelay.MessageLogging(messageLog, connectionId, "<-") : null, attachTap, finishToClient);
        var (clientToUpstream, upstreamToClient) = epoll.TryStart(client, upstream, fromClient, fromUpstream, toUpstream, toClient)
            ?? (WebSocketFrameRelay.CopyAsync(client, upstream, fromClient, toUpstream), WebSocketFrameRelay.CopyAsync(upstream, client, fromUpstream, toClient));
        var stopWatching = new TaskCompletionSource();
        var browserMoved = WaitForNewBrowserAsync(subscription, dialedBrowserUrl, stopWatching.Task);
        var idleWatch = IdleWatch.Start(options.IdleTimeout, time, fromClient, fromUpstream);
        var idle = idleWatch?.Idle;

        var first = await (idle is null
            ? Task.WhenAny(clientToUpstream, upstreamToClient, browserMoved, lifetime.StoppingTask, open.CloseRequested)
            : Task.WhenAny(clientToUpstream, upstreamToClient, browserMoved, lifetime.StoppingTask, open.CloseRequested, idle)).ConfigureAwait(false);
        var disconnectedAt = time.GetTimestamp();
        var disconnectedWall = time.GetUtcNow();
        open.MarkEnding();

        idleWatch?.Dispose();
        stopWatching.TrySetResult();
        await browserMoved.ConfigureAwait(false);

        ConnectionEnd end;
        RelayOutcome? outcome = null;
        if (first == clientToUpstream)
        {
            end = ConnectionEnd.ClientToUpstream;
            outcome = clientToUpstream.Result;
        }
        else if (first == upstreamToClient)
        {
            end = ConnectionEnd.UpstreamToClient;
            outcome = upstreamToClient.Result;
        }
        else if (first == idle)
        {
            end = ConnectionEnd.IdleTimeout;
        }
        else if (first == open.CloseRequested)
        {
            end = ConnectionEnd.ClosedByOperator;
        }
        else
        {
            end = first == browserMoved ? ConnectionEnd.BrowserMoved : ConnectionEnd.GatewayStopping;
        }

        // Close both legs before resolving the reason: the client is never held open for the confirm wait. A close frame
        // may only go between two frames: the browser's frame in flight to the client is finished first (within the
        // close grace), and none begins after it.
        if (!upstreamToClient.IsCompleted)
        {
            finishToClient.Request();
            await WaitAsync(upstreamToClient).ConfigureAwait(false);
        }
        upstream.Abort();
        // One reading for the close frame and the reason, so the two cannot disagree about a replacement.
        var replacedUrl = chromium.ReplacedDevToolsUrl;
        int? sent = null;
        if (!upstreamToClient.IsCompleted)
        {
            // The client stopped reading, or the browser stopped in the middle of a frame: no close frame can reach it.
            client.Abort();
            await upstreamToClient.ConfigureAwait(false);
        }
        else if (DisconnectRules.CloseFor(new CloseFacts(end, outcome, lifetime.Stopping.IsCancellationRequested, false, tracker.Current,
            dialedBrowserUrl, replacedUrl, options.MaxMessageBytes)) is { } close)
        {
            sent = await CloseClientAsync(client, close).ConfigureAwait(false);
        }
        // From here the disconnect is the background completion's: the handler returns as soon as the
        // client's close handshake is over, so Kestrel closes the TCP connection then, not after the
        // confirm wait.
        var handshake = FinishClientCloseAsync(client, clientToUpstream, sent, DisconnectRules.ClientsOwnCode(end, outcome));
        published();
        pending.Track(CompleteDisconnectAsync(new Ending(connectionId, span, end, outcome, dialedBrowserUrl, replacedUrl, connectedAt, disconnectedAt,
            disconnectedWall, fromClient, fromUpstream, handshake, clientToUpstream, upstreamToClient, commands), subscription));
        await handshake.ConfigureAwait(false);
        return true;
    }

    /// <summary>What the background completion needs to resolve and report one connection's end.</summary>
    /// <param name="CloseCode">The client's close handshake, ending with the <c>close_code</c> to report.</param>
    private sealed record Ending(string ConnectionId, Activity? Span, ConnectionEnd End, RelayOutcome? Outcome, string DialedBrowserUrl, string? ReplacedUrl,
        long ConnectedAt, long DisconnectedAt, DateTimeOffset DisconnectedWall, RelayCounters FromClient, RelayCounters FromUpstream, Task<int?> CloseCode,
        Task<RelayOutcome> ClientToUpstream, Task<RelayOutcome> UpstreamToClient, CdpCommandRecorder Commands);

    /// <summary>Resolves the reason (up to the confirm wait), drains command telemetry, emits <c>cdp_disconnect</c>.</summary>
    private async Task CompleteDisconnectAsync(Ending end, DevToolsUrlTracker.Subscription subscription)
    {
        var reason = DisconnectReason.UpstreamError;
        int? closeCode = null;
        try
        {
            // Nothing more reaches the closed upstream once no forward is in flight: the counts are final.
            await end.FromClient.WaitUntilSettledAsync().ConfigureAwait(false);
            reason = await resolver.ResolveAsync(end.End, end.Outcome?.End, end.DialedBrowserUrl, subscription, options.RestartConfirmWait,
                lifetime.Stopping, end.ReplacedUrl).ConfigureAwait(false);
            subscription.Dispose();
            closeCode = await end.CloseCode.ConfigureAwait(false);
            if (logger.IsEnabled(LogLevel.Debug))
            {
                // Both directions are over once the close handshake is: how each ended (with its exception or errno)
                // is what explains a connection's end afterwards.
                logger.LogDebug("Connection {ConnectionId} ended by {End}, {Reason}, close code {CloseCode}; client to browser: {ClientToUpstream}; browser to client: {UpstreamToClient}",
                    end.ConnectionId, end.End, reason.WireName(), closeCode, end.ClientToUpstream.Result, end.UpstreamToClient.Result);
            }
            // The last commands precede the disconnect, and its loss counts are final.
            await end.Commands.DrainAsync(CommandDrainWait).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Connection {ConnectionId}: resolving its end failed", end.ConnectionId);
        }
        finally
        {
            subscription.Dispose();
            PublishDisconnect(end.ConnectionId, end.Span, reason, end.ConnectedAt, end.DisconnectedAt, end.DisconnectedWall, end.FromClient, end.FromUpstream,
                closeCode, end.Commands.Dropped, end.Commands.Excluded, DisconnectRules.CancelledBy(end.End, reason));
        }
    }

    /// <summary>
    /// Lets the client answer our close frame (bounded), then lets go of its socket; returns the <c>close_code</c> to
    /// report (<see cref="DisconnectRules.CloseCode"/>).
    /// </summary>
    /// <param name="clientToUpstream">The relay direction reading the client, or null when nothing reads it.</param>
    /// <param name="sent">The code of the close frame the gateway sent, when its write completed.</param>
    /// <param name="clientsOwn">The client's own code, when its close frame ended the connection.</param>
    private static async Task<int?> FinishClientCloseAsync(WebSocketLeg client, Task<RelayOutcome>? clientToUpstream, int? sent, int? clientsOwn)
    {
        var closingSince = NetworkClock.GetTimestamp();
        if (sent is null && clientsOwn is null)
        {
            // No close handshake to finish (ours could not be sent): nothing to wait for.
            client.Abort();
        }
        // A close frame of the client's that crossed ours is no answer to it.
        var awaitingReply = sent is not null && client.State == WebSocketState.CloseSent;
        if (clientToUpstream is not null)
        {
            await WaitAsync(clientToUpstream).ConfigureAwait(false);
        }
        if (clientToUpstream is null or { IsCompleted: true } && client.State == WebSocketState.CloseSent)
        {
            // Reads and discards what the client still sends until its close reply, so closing the
            // socket with unread data does not turn into a TCP reset that overtakes our close frame.
            using var timeout = new CancellationTokenSource(CloseGrace, NetworkClock);
            await client.DrainUntilCloseAsync(timeout.Token).ConfigureAwait(false);
        }
        var replied = awaitingReply && client.State == WebSocketState.Closed;
        // Asked before the socket is let go: a slow reader's close frame may still sit in the send queue, and closing
        // the connection drops it.
        var sendQueueEmpty = sent is not null && !replied && clientsOwn is null
            ? await SendQueueEmptiesAsync(client, closingSince).ConfigureAwait(false)
            : null;
        if (clientToUpstream is { IsCompleted: false })
        {
            // The client has not answered within the grace: tear its connection down to end the read.
            client.Abort();
        }
        if (clientToUpstream is not null)
        {
            await clientToUpstream.ConfigureAwait(false);
        }
        return DisconnectRules.CloseCode(clientsOwn, sent, replied, sendQueueEmpty);
    }

    /// <summary>
    /// Whether the client's kernel acknowledged everything sent to it, given until the close grace (counted from
    /// <paramref name="since"/>) is over: a client that read our close frame and went away without answering leaves the
    /// wait early, and its acknowledgement may still be on the way.
    /// </summary>
    private static async Task<bool?> SendQueueEmptiesAsync(WebSocketLeg client, long since)
    {
        var pause = TimeSpan.FromMilliseconds(1);
        while (true)
        {
            var empty = client.SendQueueEmpty();
            if (empty != false || NetworkClock.GetElapsedTime(since) >= CloseGrace)
            {
                return empty;
            }
            await Task.Delay(pause, NetworkClock).ConfigureAwait(false);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(50).Ticks));
        }
    }

    private async Task<DialResult> DialAsync(UpgradeTarget target, string browserUrl, DevToolsUrlTracker.Subscription subscription,
        CancellationToken cancellationToken, LoopSocket? clientSocket, Activity? connectionSpan)
    {
        var span = tracing.StartDial(connectionSpan);
        DialResult dial;
        try
        {
            // The browser's socket joins the client's loop (the relay drives both), with the client socket's continuation rule.
            dial = await dialer.DialAsync(target, browserUrl, subscription, options.DialRetryWindow, cancellationToken, clientSocket?.Loop,
                clientSocket?.InlineContinuations ?? false).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A cancelled connect can surface as a WebSocketException; the tokens decide what it was.
            dial = new DialResult(null, browserUrl, ex.Message);
        }
        ConnectionTracing.EndDial(span, dial, cancellationToken.IsCancellationRequested);
        return dial;
    }

    /// <summary>
    /// The client ended its side before the browser was reached: its close frame is answered (no browser to pass it
    /// to), a violation or an oversize message gets the close the relay would give it, and the connection ends as the
    /// client's leaving.
    /// </summary>
    private async Task EndLeftWhileDialingAsync(WebSocketLeg client, RelayOutcome outcome, string connectionId, Activity? span, long connectedAt, long leftAt)
    {
        var leftWall = time.GetUtcNow() - time.GetElapsedTime(leftAt);
        var close = DisconnectRules.CloseFor(new CloseFacts(ConnectionEnd.ClientLeftWhileDialing, outcome, MaxMessageBytes: options.MaxMessageBytes));
        var sentCode = close is { } frame ? await CloseClientAsync(client, frame).ConfigureAwait(false) : null;
        // Nothing reads the client here: the wait for its close reply reads it directly.
        var closeCode = await FinishClientCloseAsync(client, null, sentCode,
            DisconnectRules.ClientsOwnCode(ConnectionEnd.ClientLeftWhileDialing, outcome)).ConfigureAwait(false);
        var reason = DisconnectRules.Reason(new ReasonFacts(ConnectionEnd.ClientLeftWhileDialing));
        PublishDisconnect(connectionId, span, reason ?? DisconnectReason.ClientClose, connectedAt, leftAt, leftWall, new RelayCounters(), new RelayCounters(), closeCode);
    }

    /// <summary>Sends the close frame and returns its code, or null when it could not be sent.</summary>
    private static async Task<int?> CloseClientAsync(WebSocketLeg client, ClientClose close)
    {
        if (client.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return null;
        }
        using var timeout = new CancellationTokenSource(CloseGrace, NetworkClock);
        return await client.SendCloseAsync(close.Status, close.Text, timeout.Token).ConfigureAwait(false) ? (int)close.Status : null;
    }

    /// <summary>
    /// Completes when the direction does, or after the close grace. Its timer goes with the direction's end: a plain
    /// delay would fire for every connection seconds after it ended, a thread-pool wake-up each.
    /// </summary>
    private static Task WaitAsync(Task direction) =>
        direction.IsCompleted ? Task.CompletedTask : direction.WaitAsync(CloseGrace, NetworkClock).ContinueWith(static _ => { },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>
    /// Completes when the browser this connection was dialled to is replaced, or when <paramref name="stop"/> does.
    /// Stopping is a plain signal rather than a cancellation: every connection ends this watch, and a cancelled wait
    /// costs an exception thrown through the async chain.
    /// </summary>
    private static async Task WaitForNewBrowserAsync(DevToolsUrlTracker.Subscription subscription, string dialedBrowserUrl, Task stop)
    {
        while (true)
        {
            var announced = subscription.WaitAsync();
            if (!announced.IsCompleted)
            {
                // The pending wait ends when the subscription is disposed, after the connection is reported.
                var waiting = announced.AsTask();
                if (await Task.WhenAny(waiting, stop).ConfigureAwait(false) == stop)
                {
                    return;
                }
                announced = new ValueTask<bool>(waiting);
            }
            if (!await announced.ConfigureAwait(false))
            {
                // No more announcements (the gateway is stopping): only the stop signal ends the watch.
                await stop.ConfigureAwait(false);
                return;
            }
            while (subscription.TryTake(out var next))
            {
                if (DisconnectRules.HasMoved(next, dialedBrowserUrl))
                {
                    return;
                }
            }
        }
    }

    private void PublishDisconnect(string connectionId, Activity? span, DisconnectReason reason, long connectedAt, long disconnectedAt, DateTimeOffset disconnectedWall,
        RelayCounters fromClient, RelayCounters fromUpstream, int? closeCode, long telemetryDropped = 0, long telemetryExcluded = 0,
        string? cancelledBy = null)
    {
        var duration = time.GetElapsedTime(connectedAt, disconnectedAt);
        var ended = new CdpDisconnectData
        {
            ConnectionId = connectionId,
            Reason = reason,
            DurationMs = Math.Round(duration.TotalMilliseconds, 3),
            MessagesFromClient = fromClient.Messages,
            MessagesFromUpstream = fromUpstream.Messages,
            BytesFromClient = fromClient.Bytes,
            BytesFromUpstream = fromUpstream.Bytes,
            CloseCode = closeCode,
            TelemetryDropped = telemetryDropped,
            TelemetryExcluded = telemetryExcluded,
            CancelledBy = cancelledBy,
        };
        openConnections.Unregister(connectionId, new RelayTraffic(ended.MessagesFromClient, ended.MessagesFromUpstream, ended.BytesFromClient, ended.BytesFromUpstream));
        metrics.ConnectionEnded(ended);
        // Ended before the event goes out: whoever sees the event finds the span with its exporter.
        ConnectionTracing.EndConnection(span, ended);
        events.Publish(ConnectionEventTypes.Disconnect, EventCategory.Connection, ended, TelemetryJsonContext.Default.CdpDisconnectData, disconnectedWall);
    }
}
