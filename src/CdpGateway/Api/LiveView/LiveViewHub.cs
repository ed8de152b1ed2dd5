using System.Text.Json;
using CdpGateway.Browser;
using CdpGateway.Telemetry;
using Microsoft.Extensions.Logging;
using CdpGateway.Proxy;

namespace CdpGateway.Api.LiveView;

/// <summary>
/// Every live screencast, and the one CDP session to Chromium they share. The first viewer of a page opens the session
/// (if none is open), attaches to the page and starts its screencast; the last one to leave stops it and detaches, and
/// with the last screencast the session closes. Nothing runs while nobody watches. A new browser (restart, crash)
/// ends every screencast with a reason the viewers are shown; they can pick again.
/// </summary>
/// <remarks>
/// The session only attaches (<c>Target.attachToTarget</c>, flattened), screencasts and detaches: it creates no target,
/// activates or focuses nothing and changes no emulation, so clients see the same targets and pages as before.
/// Starting and stopping run one at a time (<see cref="_serial"/>); frames and input marks go to viewers without it.
/// </remarks>
public sealed class LiveViewHub(DevToolsUrlTracker tracker, IChromiumControl chromium, EventStream events, OpenConnections openConnections,
    ILogger<LiveViewHub> logger)
    : IAsyncDisposable
{
    public const string BrowserRestarted = "browser restarted: pick the page again";
    public const string PageGone = "the page was closed";

    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, TargetScreencast> _byTarget = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TargetScreencast> _bySession = new(StringComparer.Ordinal);
    private LiveViewSession? _session;
    private CancellationTokenSource? _sessionStop;
    private long _started;
    private long _stopped;
    private long _sessionsOpened;

    /// <summary>Screencasts started since the gateway started.</summary>
    public long ScreencastsStarted => Interlocked.Read(ref _started);

    /// <summary>Screencasts stopped (the last viewer left, the page went away, the browser changed).</summary>
    public long ScreencastsStopped => Interlocked.Read(ref _stopped);

    /// <summary>Sessions to Chromium opened since the gateway started.</summary>
    public long SessionsOpened => Interlocked.Read(ref _sessionsOpened);

    /// <summary>True while the gateway holds a session to Chromium.</summary>
    public bool SessionOpen => Volatile.Read(ref _session) is not null;

    /// <summary>The pages watched now and their viewer counts.</summary>
    public IReadOnlyList<(string TargetId, int Viewers, long Frames)> Screencasts()
    {
        lock (_gate)
        {
            return [.. _byTarget.Values.Select(c => (c.TargetId, c.ViewerCount, c.FramesReceived))];
        }
    }

    /// <summary>Adds a viewer of <paramref name="targetId"/>, starting its screencast if nobody watched it.</summary>
    public async Task<LiveViewer> JoinAsync(string targetId, CancellationToken cancellationToken)
    {
        await _serial.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var session = await EnsureSessionAsync(cancellationToken).ConfigureAwait(false);
            TargetScreencast? screencast;
            lock (_gate)
            {
                _byTarget.TryGetValue(targetId, out screencast);
            }
            try
            {
                screencast ??= await StartAsync(session, targetId, cancellationToken).ConfigureAwait(false);
            }
            catch when (IsIdle())
            {
                // Nobody else watches: the session opened for this viewer closes with its failure.
                await CloseSessionAsync(session, "could not start").ConfigureAwait(false);
                throw;
            }
            var viewer = new LiveViewer(targetId);
            if (!screencast.Add(viewer))
            {
                throw new LiveViewException("the screencast ended as it was joined; pick the page again");
            }
            return viewer;
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>Removes a viewer; the last one of a page stops its screencast, the last screencast closes the session.</summary>
    public async Task LeaveAsync(LiveViewer viewer)
    {
        await _serial.WaitAsync().ConfigureAwait(false);
        try
        {
            TargetScreencast? screencast;
            lock (_gate)
            {
                _byTarget.TryGetValue(viewer.TargetId, out screencast);
            }
            if (screencast is null || screencast.Remove(viewer) > 0)
            {
                return;
            }
            await StopAsync(screencast, "nobody watches").ConfigureAwait(false);
            bool idle;
            lock (_gate)
            {
                idle = _byTarget.Count == 0;
            }
            if (idle && _session is { } session)
            {
                await CloseSessionAsync(session, "nobody watches").ConfigureAwait(false);
            }
        }
        finally
        {
            _serial.Release();
        }
    }

    private bool IsIdle()
    {
        lock (_gate)
        {
            return _byTarget.Count == 0;
        }
    }

    private async Task<LiveViewSession> EnsureSessionAsync(CancellationToken cancellationToken)
    {
        if (_session is { } open)
        {
            if (!open.Closed.IsCompleted && open.BrowserUrl == tracker.Current)
            {
                return open;
            }
            await CloseSessionAsync(open, open.BrowserUrl == tracker.Current ? await open.Closed.ConfigureAwait(false) : BrowserRestarted)
                .ConfigureAwait(false);
        }
        // Subscribed before the URL is read, so a browser announced in between is not missed.
        var subscription = tracker.Subscribe();
        try
        {
            var url = tracker.Current;
            if (url.Length == 0)
            {
                throw new LiveViewException("no browser yet: Chromium has not announced its DevTools URL");
            }
            LiveViewSession session;
            try
            {
                session = await LiveViewSession.ConnectAsync(url, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new LiveViewException($"the browser could not be reached: {e.Message}");
            }
            session.EventReceived += (method, sessionId, parameters) => OnEvent(session, method, sessionId, parameters);
            Interlocked.Increment(ref _sessionsOpened);
            var stop = new CancellationTokenSource();
            _session = session;
            _sessionStop = stop;
            _ = WatchAsync(session, subscription, stop.Token);
            _ = InputOverlay.RunAsync(events, DeliverInput, stop.Token);
            subscription = null;
            return session;
        }
        finally
        {
            subscription?.Dispose();
        }
    }

    private async Task<TargetScreencast> StartAsync(LiveViewSession session, string targetId, CancellationToken cancellationToken)
    {
        var attached = await session.SendAsync("Target.attachToTarget", w =>
        {
            w.WriteString("targetId", targetId);
            w.WriteBoolean("flatten", true);
        }, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (attached.ValueKind != JsonValueKind.Object || !attached.TryGetProperty("sessionId", out var id) || id.GetString() is not { } sessionId)
        {
            throw new LiveViewException("Chromium attached to the page without a session id");
        }
        var screencast = new TargetScreencast(targetId, sessionId);
        lock (_gate)
        {
            _byTarget[targetId] = screencast;
            _bySession[sessionId] = screencast;
        }
        try
        {
            await session.SendAsync("Page.startScreencast", w =>
            {
                w.WriteString("format", "jpeg");
                w.WriteNumber("quality", 70);
                w.WriteNumber("maxWidth", 1280);
                w.WriteNumber("maxHeight", 960);
                w.WriteNumber("everyNthFrame", 1);
            }, sessionId, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Forget(screencast);
            await DetachAsync(session, sessionId).ConfigureAwait(false);
            throw;
        }
        Interlocked.Increment(ref _started);
        logger.LogInformation("Live view: screencast of {TargetId} started", targetId);
        return screencast;
    }

    private async Task StopAsync(TargetScreencast screencast, string reason)
    {
        Forget(screencast);
        if (_session is { } session && !session.Closed.IsCompleted)
        {
            try
            {
                await session.SendAsync("Page.stopScreencast", sessionId: screencast.SessionId).ConfigureAwait(false);
            }
            catch (LiveViewException)
            {
                // The page may be gone already; detaching below is what matters.
            }
            await DetachAsync(session, screencast.SessionId).ConfigureAwait(false);
        }
        Interlocked.Increment(ref _stopped);
        screencast.End(reason);
        logger.LogInformation("Live view: screencast of {TargetId} stopped ({Reason})", screencast.TargetId, reason);
    }

    private static async Task DetachAsync(LiveViewSession session, string sessionId)
    {
        try
        {
            await session.SendAsync("Target.detachFromTarget", w => w.WriteString("sessionId", sessionId)).ConfigureAwait(false);
        }
        catch (LiveViewException)
        {
        }
    }

    private void Forget(TargetScreencast screencast)
    {
        lock (_gate)
        {
            if (_byTarget.TryGetValue(screencast.TargetId, out var current) && current == screencast)
            {
                _byTarget.Remove(screencast.TargetId);
            }
            _bySession.Remove(screencast.SessionId);
        }
    }

    /// <summary>Ends every screencast with <paramref name="reason"/> and closes the session. Runs under <see cref="_serial"/>.</summary>
    private async Task CloseSessionAsync(LiveViewSession session, string reason)
    {
        if (_session != session)
        {
            return;
        }
        _session = null;
        var stop = _sessionStop;
        _sessionStop = null;
        stop?.Cancel();
        stop?.Dispose();
        TargetScreencast[] screencasts;
        lock (_gate)
        {
            screencasts = [.. _byTarget.Values];
        }
        foreach (var screencast in screencasts)
        {
            // A session that still stands is told to stop; a lost one has nothing left to stop.
            await StopAsync(screencast, reason).ConfigureAwait(false);
        }
        await session.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Ends the session when its browser goes away or is replaced: every viewer is told why.</summary>
    private async Task WatchAsync(LiveViewSession session, DevToolsUrlTracker.Subscription subscription, CancellationToken stop)
    {
        using (subscription)
        {
            string reason;
            try
            {
                while (true)
                {
                    var next = subscription.NextAsync(stop).AsTask();
                    Task first = await Task.WhenAny((Task)session.Closed, next).ConfigureAwait(false);
                    if (first == session.Closed)
                    {
                        // A restart or flag change stops the old browser before its successor is announced: that is
                        // a restart, not a loss, as the gateway tells its own clients (1012).
                        reason = chromium.ReplacedDevToolsUrl == session.BrowserUrl
                            ? BrowserRestarted
                            : "the connection to the browser was lost (" + await session.Closed.ConfigureAwait(false) + "): pick the page again";
                        break;
                    }
                    var url = await next.ConfigureAwait(false);
                    if (url is null || url != session.BrowserUrl)
                    {
                        reason = BrowserRestarted;
                        break;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await _serial.WaitAsync().ConfigureAwait(false);
            try
            {
                await CloseSessionAsync(session, reason).ConfigureAwait(false);
            }
            finally
            {
                _serial.Release();
            }
        }
    }

    /// <summary>Chromium's events on the session, on its receive loop: never waits for the session's own answers.</summary>
    private void OnEvent(LiveViewSession session, string method, string? sessionId, JsonElement parameters)
    {
        switch (method)
        {
            case "Page.screencastFrame" when sessionId is not null:
                TargetScreencast? screencast;
                lock (_gate)
                {
                    _bySession.TryGetValue(sessionId, out screencast);
                }
                screencast?.OnFrame(parameters);
                // Acked at once, whoever watches: Chromium sends the next frame when the page changes, and a slow
                // viewer skips frames instead of slowing the screencast down for the others.
                if (parameters.TryGetProperty("sessionId", out var frameSession) && frameSession.TryGetInt64(out var ackId))
                {
                    _ = AckAsync(session, sessionId, ackId);
                }
                break;
            case "Target.detachedFromTarget":
                if (parameters.TryGetProperty("sessionId", out var detached) && detached.GetString() is { } detachedSession)
                {
                    _ = EndDetachedAsync(session, detachedSession);
                }
                break;
        }
    }

    private static async Task AckAsync(LiveViewSession session, string sessionId, long frame)
    {
        try
        {
            await session.SendAsync("Page.screencastFrameAck", w => w.WriteNumber("sessionId", frame), sessionId).ConfigureAwait(false);
        }
        catch (LiveViewException)
        {
        }
    }

    /// <summary>Chromium detached the gateway from a page (it closed, or crashed): its viewers are told.</summary>
    private async Task EndDetachedAsync(LiveViewSession session, string sessionId)
    {
        await _serial.WaitAsync().ConfigureAwait(false);
        try
        {
            TargetScreencast? screencast;
            lock (_gate)
            {
                _bySession.TryGetValue(sessionId, out screencast);
            }
            if (screencast is null || _session != session)
            {
                return;
            }
            Forget(screencast);
            Interlocked.Increment(ref _stopped);
            screencast.End(PageGone);
            bool idle;
            lock (_gate)
            {
                idle = _byTarget.Count == 0;
            }
            if (idle)
            {
                await CloseSessionAsync(session, PageGone).ConfigureAwait(false);
            }
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>
    /// One input mark from the telemetry stream, to the page it was aimed at if anyone watches that page: a command
    /// without a session id drives its connection's own page (none for a browser connection), one with a session id
    /// the target Chromium attached that session to on that connection (<see cref="OpenConnection.Sessions"/>). A
    /// session Chromium did not announce to the connection is drawn nowhere.
    /// </summary>
    private void DeliverInput(string connectionId, string? sessionId, byte[] mark)
    {
        if (!openConnections.TryGet(connectionId, out var open))
        {
            return;
        }
        var target = sessionId is null ? open.TargetId : open.Sessions?.TargetOf(sessionId);
        if (target is null)
        {
            return;
        }
        TargetScreencast? screencast;
        lock (_gate)
        {
            _byTarget.TryGetValue(target, out screencast);
        }
        screencast?.OnInput(mark);
    }

    public async ValueTask DisposeAsync()
    {
        await _serial.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_session is { } session)
            {
                await CloseSessionAsync(session, "the gateway is stopping").ConfigureAwait(false);
            }
        }
        finally
        {
            _serial.Release();
        }
    }
}
