using CdpGateway.Telemetry;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// Keeps "ready" true to the browser after it was first found ready. A process exit is not always there to see: in
/// attach mode the browser belongs to someone else, and in launch mode a hung browser has not exited. So the ready
/// browser is probed (<c>Browser.getVersion</c>, as readiness is decided) every <see cref="Interval"/>, and at once
/// when something reports a failure against its URL (<see cref="DevToolsUrlTracker.ReportFailure"/>). A probe that
/// fails makes it unreachable (<c>chromium_unreachable</c>); one that answers again, or a newer generation found
/// ready, ends that (<c>chromium_reachable</c>). Before the first ready, and while the owner restarts or backs off,
/// the owner's own state tells the truth and the watch only looks.
/// </summary>
public sealed class ReachabilityWatch : IAsyncDisposable
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Least time between a probe asked for by a failure report and the next such probe: a stale page target dialled by
    /// many clients must not turn into a stream of probes. The first report after a regular round is probed at once.
    /// </summary>
    private static readonly TimeSpan ReportSpacing = TimeSpan.FromMilliseconds(250);

    private readonly BrowserReadiness _readiness;
    private readonly DevToolsUrlTracker _tracker;
    private readonly IEventPublisher _events;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(long Probes, TaskCompletionSource Done)> _idleWaiters = [];
    private readonly List<(long Probe, TaskCompletionSource Done)> _startWaiters = [];
    private long _started;
    private TaskCompletionSource _report = NewSignal();
    private bool _reported;
    private bool _idle;
    private long _probes;
    private long _lastProbeEnd;
    private bool _lastProbeReported;
    private string? _lastError;
    private readonly Func<bool>? _exiting;
    private Task? _loop;

    /// <param name="exiting">
    /// Launch mode: true when the browser process is exiting or gone. Its owner reports an exit (and health follows
    /// from that), so a probe refused by a dying browser is not also called unreachable.
    /// </param>
    public ReachabilityWatch(BrowserReadiness readiness, DevToolsUrlTracker tracker, IEventPublisher events, TimeProvider time, ILogger logger,
        TimeSpan? interval = null, TimeSpan? timeout = null, Func<bool>? exiting = null)
    {
        _exiting = exiting;
        _readiness = readiness;
        _tracker = tracker;
        _events = events;
        _time = time;
        _logger = logger;
        Interval = interval ?? DefaultInterval;
        Timeout = timeout ?? DefaultTimeout;
    }

    /// <summary>Pause between probes of a browser nobody reported failing.</summary>
    public TimeSpan Interval { get; }

    /// <summary>How long one probe may take; a browser that accepts but never answers (stopped, hung) fails after it.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>What the probe met when it last found the browser unreachable; null while it answers.</summary>
    public string? LastError
    {
        get
        {
            lock (_gate)
            {
                return _readiness.IsUnreachable ? _lastError : null;
            }
        }
    }

    public void Start()
    {
        if (_loop is not null)
        {
            return;
        }
        _lastProbeEnd = _time.GetTimestamp();
        _tracker.FailureReported += OnFailureReported;
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>
    /// Completes once the watch, watching a browser found ready, waits for its next round with nothing pending and at
    /// least <paramref name="probes"/> probes done: after that, only time or a report moves it (tests advance a fake
    /// clock from there).
    /// </summary>
    internal Task IdleAsync(long probes)
    {
        lock (_gate)
        {
            if (_idle && _probes >= probes)
            {
                return Task.CompletedTask;
            }
            var done = NewSignal();
            _idleWaiters.Add((probes, done));
            return done.Task;
        }
    }

    /// <summary>Completes once probe number <paramref name="probe"/> (from one) has started and set its deadline.</summary>
    internal Task ProbeStartedAsync(long probe)
    {
        lock (_gate)
        {
            if (_started >= probe)
            {
                return Task.CompletedTask;
            }
            var done = NewSignal();
            _startWaiters.Add((probe, done));
            return done.Task;
        }
    }

    private void Started()
    {
        List<TaskCompletionSource>? released = null;
        lock (_gate)
        {
            _started++;
            for (var i = _startWaiters.Count - 1; i >= 0; i--)
            {
                if (_startWaiters[i].Probe <= _started)
                {
                    (released ??= []).Add(_startWaiters[i].Done);
                    _startWaiters.RemoveAt(i);
                }
            }
        }
        released?.ForEach(done => done.TrySetResult());
    }

    public async ValueTask DisposeAsync()
    {
        _tracker.FailureReported -= OnFailureReported;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        _stop.Dispose();
    }

    private void OnFailureReported(string browserUrl)
    {
        // Only the browser that counts as ready (or is already known silent) is worth a probe; a failure against one
        // still starting or already replaced tells nothing new.
        if (browserUrl != _readiness.ReadyUrl)
        {
            return;
        }
        TaskCompletionSource report;
        lock (_gate)
        {
            if (_reported)
            {
                return;
            }
            _reported = true;
            report = _report;
        }
        report.TrySetResult();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        // The generation this watch last called unreachable, until a browser answers again.
        long? silent = null;
        // A browser just found ready has just answered: the first probe waits for a round or a report.
        var due = false;
        try
        {
            while (true)
            {
                var (snapshot, changed) = _readiness.Observe();
                if (silent is not null && snapshot.Ready && snapshot.Url is not null)
                {
                    silent = null;
                    PublishReachable(snapshot.Generation, snapshot.Url);
                }
                var watching = (snapshot.Ready || snapshot.Unreachable) && snapshot.Url is not null;
                if (watching && due)
                {
                    silent = await ProbeAsync(snapshot, silent, ct).ConfigureAwait(false);
                }
                // Waits on the change signal from before the probe, so a change made during it is looked at at once.
                due = await WaitAsync(changed, watching, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>One probe of the watched browser and its verdict; returns the generation now called unreachable, if any.</summary>
    private async Task<long?> ProbeAsync(ReadinessSnapshot snapshot, long? silent, CancellationToken ct)
    {
        var url = snapshot.Url!;
        lock (_gate)
        {
            // This probe answers every report made so far.
            _reported = false;
            if (_report.Task.IsCompleted)
            {
                _report = NewSignal();
            }
        }
        var probe = _readiness.CheckAsync(url, Timeout, ct);
        Started(); // after the call, so the probe's own deadline is already on the clock
        var error = await probe.ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        lock (_gate)
        {
            _probes++;
            _lastProbeEnd = _time.GetTimestamp();
        }
        if (error is null)
        {
            if (_readiness.TryMarkReachable(snapshot.Generation, url))
            {
                PublishReachable(snapshot.Generation, url);
                return null;
            }
            return silent;
        }
        if (_exiting?.Invoke() == true || !_readiness.TryMarkUnreachable(snapshot.Generation, url))
        {
            return silent;
        }
        lock (_gate)
        {
            _lastError = error;
        }
        _logger.LogWarning("Chromium (generation {Generation}) stopped answering at {Url}: {Error}", snapshot.Generation, url, error);
        _events.Publish(ChromiumEventTypes.Unreachable, EventCategory.System,
            new ChromiumUnreachableData(url, snapshot.Generation, error), TelemetryJsonContext.Default.ChromiumUnreachableData);
        return snapshot.Generation;
    }

    /// <summary>
    /// Until the next round is due, a failure is reported, or readiness changes; true when a probe is due (the round, or
    /// a report), false when only readiness changed.
    /// </summary>
    private async Task<bool> WaitAsync(Task changed, bool watching, CancellationToken ct)
    {
        using var round = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var timer = Task.Delay(Interval, _time, round.Token);
        Task report;
        List<TaskCompletionSource>? released = null;
        lock (_gate)
        {
            report = _report.Task;
            if (watching && !report.IsCompleted && !changed.IsCompleted)
            {
                _idle = true;
                for (var i = _idleWaiters.Count - 1; i >= 0; i--)
                {
                    if (_idleWaiters[i].Probes <= _probes)
                    {
                        (released ??= []).Add(_idleWaiters[i].Done);
                        _idleWaiters.RemoveAt(i);
                    }
                }
            }
        }
        released?.ForEach(done => done.TrySetResult());
        try
        {
            await Task.WhenAny(timer, report, changed).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _idle = false;
            }
            await round.CancelAsync().ConfigureAwait(false);
        }
        ct.ThrowIfCancellationRequested();
        var timed = timer.IsCompletedSuccessfully;
        var reported = report.IsCompleted && !timed;
        long lastEnd;
        bool lastReported;
        lock (_gate)
        {
            lastEnd = _lastProbeEnd;
            lastReported = _lastProbeReported;
            if (timed || reported)
            {
                _lastProbeReported = reported;
            }
        }
        var since = _time.GetElapsedTime(lastEnd);
        if (reported && lastReported && since < ReportSpacing)
        {
            await Task.Delay(ReportSpacing - since, _time, ct).ConfigureAwait(false);
        }
        return timed || reported;
    }

    private void PublishReachable(long generation, string url)
    {
        _logger.LogInformation("Chromium (generation {Generation}) answers at {Url}", generation, url);
        _events.Publish(ChromiumEventTypes.Reachable, EventCategory.System,
            new ChromiumReachableData(url, generation), TelemetryJsonContext.Default.ChromiumReachableData);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
