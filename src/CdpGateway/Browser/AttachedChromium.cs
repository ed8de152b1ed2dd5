using System.Diagnostics;
using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// Attach mode: something else (supervisord, systemd, ...) runs Chromium and the gateway learns its
/// DevTools URL from a followed log. Each new URL is a new generation (a <c>chromium_started</c> event
/// without pid) and is probed for readiness. A restart runs <c>--restart-command</c> through
/// <c>/bin/sh -c</c> and waits, as in launch mode, for a new URL that answers <c>Browser.getVersion</c>.
/// Flags are whatever launches Chromium decides, so flag changes are refused here.
/// Once ready, the browser is watched (<see cref="ReachabilityWatch"/>): a browser stopped where it is supervised
/// leaves no exit to see, only a URL that no longer answers.
/// Also serves a gateway whose URL is set from outside (<c>follower</c> null, <c>probe</c> false: tests).
/// </summary>
public sealed class AttachedChromium : IChromiumControl
{
    private readonly GatewayOptions _options;
    private readonly DevToolsUrlTracker _tracker;
    private readonly ChromiumLogFollower? _follower;
    private readonly IEventPublisher _events;
    private readonly TimeProvider _time;
    private readonly ILogger<AttachedChromium> _logger;
    private readonly bool _probe;
    private readonly BrowserReadiness _readiness;
    private readonly ReachabilityWatch? _watch;
    private readonly SemaphoreSlim _restartGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private DevToolsUrlTracker.Subscription? _subscription;
    private Task? _loop;
    private long _generation;
    // The generation a running restart replaces; null when none runs.
    private long? _restartingFrom;
    private string? _replacedUrl;
    private int _disposed;

    public AttachedChromium(GatewayOptions options, DevToolsUrlTracker tracker, ChromiumLogFollower? follower,
        IEventPublisher events, TimeProvider time, ILogger<AttachedChromium> logger, bool probe = true,
        TimeSpan? probeInterval = null, TimeSpan? probeTimeout = null)
    {
        _options = options;
        _tracker = tracker;
        _follower = follower;
        _events = events;
        _time = time;
        _logger = logger;
        _probe = probe;
        _readiness = new BrowserReadiness(time);
        if (probe)
        {
            _watch = new ReachabilityWatch(_readiness, tracker, events, time, logger, probeInterval, probeTimeout);
        }
    }

    /// <summary>The watch over the ready browser; null when not probing.</summary>
    internal ReachabilityWatch? Reachability => _watch;

    public bool IsReady => _probe ? _readiness.IsReady : _tracker.Current.Length > 0;

    public IReadOnlyList<string> Flags => [];

    public string? ReplacedDevToolsUrl
    {
        get
        {
            lock (_gate)
            {
                return _replacedUrl;
            }
        }
    }

    public ChromiumStatus Status
    {
        get
        {
            long? restartingFrom;
            long generation;
            lock (_gate)
            {
                restartingFrom = _restartingFrom;
                generation = _generation;
            }
            var (readiness, _) = _readiness.Observe();
            var ready = _probe ? readiness.Ready : IsReady;
            // A restart is over for the status once its new browser is ready (its chromium_ready is out), even before the
            // restart's answer is written: a console reloading on that event must not read "restarting".
            var restarting = restartingFrom is { } from && !(readiness.Ready && readiness.Generation > from);
            var url = _tracker.Current;
            return new ChromiumStatus
            {
                Mode = "attach",
                State = restarting ? ChromiumState.Restarting
                    : ready ? ChromiumState.Ready
                    : _probe && _readiness.IsUnreachable ? ChromiumState.Unreachable
                    : ChromiumState.Starting,
                DevToolsUrl = url.Length > 0 ? url : null,
                Generation = _probe ? generation : _tracker.Generation,
                Restarts = Math.Max(0, (_probe ? generation : _tracker.Generation) - 1),
                Flags = [],
                RestartCommand = string.IsNullOrWhiteSpace(_options.RestartCommand) ? null : _options.RestartCommand,
                LastError = _watch?.LastError,
            };
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_probe)
        {
            // Subscribe before reading the current URL, so no announcement falls between the two.
            _subscription = _tracker.Subscribe();
            _loop = Task.Run(() => WatchAsync(_subscription, _stop.Token), CancellationToken.None);
            _watch!.Start();
        }
        if (_follower is not null)
        {
            await _follower.StartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<ChromiumRestartResult> RestartAsync(CancellationToken cancellationToken)
    {
        var command = _options.RestartCommand;
        if (string.IsNullOrWhiteSpace(command))
        {
            throw new ChromiumControlUnavailableException(
                "attach mode without --restart-command: the gateway does not know how to restart Chromium (restart it where it is supervised, or start the gateway with --restart-command CMD)");
        }
        await _restartGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var started = _time.GetTimestamp();
        long before;
        lock (_gate)
        {
            before = _generation;
            _restartingFrom = before;
            _replacedUrl = _tracker.Current.Length > 0 ? _tracker.Current : _replacedUrl;
        }
        try
        {
            using var limit = new CancellationTokenSource(BrowserReadiness.Limit, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancellationToken, _stop.Token);
            try
            {
                _readiness.MarkNotReady();
                await RunRestartCommandAsync(command, linked.Token).ConfigureAwait(false);
                var (generation, url) = await _readiness.WaitReadyAfterAsync(before, linked.Token).ConfigureAwait(false);
                var elapsed = _time.GetElapsedTime(started);
                _logger.LogInformation("Chromium restarted by the restart command and ready in {Elapsed} ms: {Url}", (long)elapsed.TotalMilliseconds, url);
                return new ChromiumRestartResult(url, generation, elapsed, [], Restarted: true);
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new ChromiumNotReadyException(
                    $"Chromium was not ready within {BrowserReadiness.Limit.TotalSeconds:0} s of the restart command", Status);
            }
        }
        finally
        {
            lock (_gate)
            {
                _restartingFrom = null;
            }
            _restartGate.Release();
        }
    }

    public Task<ChromiumRestartResult> ChangeFlagsAsync(IReadOnlyList<string> flags, bool replace, CancellationToken cancellationToken) =>
        throw new ChromiumControlUnavailableException(
            "attach mode: Chromium's flags are set by whatever launches it (--chromium-log mode), not by the gateway");

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_follower is not null)
        {
            await _follower.DisposeAsync().ConfigureAwait(false);
        }
        _subscription?.Dispose();
        if (_watch is not null)
        {
            await _watch.DisposeAsync().ConfigureAwait(false);
        }
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
    }

    private async Task WatchAsync(DevToolsUrlTracker.Subscription subscription, CancellationToken ct)
    {
        var url = _tracker.Current;
        // A URL set between subscribing and reading Current arrives twice, once each way: it is one browser.
        var last = "";
        while (!ct.IsCancellationRequested)
        {
            if (url.Length > 0 && url != last)
            {
                last = url;
                long generation;
                lock (_gate)
                {
                    generation = ++_generation;
                }
                _readiness.MarkNotReady();
                var announcedAt = _time.GetTimestamp();
                _events.Publish(ChromiumEventTypes.Started, EventCategory.System,
                    new ChromiumStartedData(null, generation, url, null), TelemetryJsonContext.Default.ChromiumStartedData);
                var announced = url;
                // Its first answer is its chromium_ready, measured from the chromium_started just published.
                _ = _readiness.ProbeUntilReadyAsync(generation, announced, () => _tracker.Current == announced, ct,
                    firstReady: answeredAt => _events.Publish(ChromiumEventTypes.Ready, EventCategory.System,
                        ChromiumReadyData.Of(null, generation, announced, _time.GetElapsedTime(announcedAt, answeredAt)),
                        TelemetryJsonContext.Default.ChromiumReadyData));
            }
            try
            {
                url = await subscription.NextAsync(ct).ConfigureAwait(false) ?? "";
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (url.Length == 0)
            {
                return; // unsubscribed
            }
        }
    }

    private async Task RunRestartCommandAsync(string command, CancellationToken ct)
    {
        _logger.LogInformation("Restarting Chromium with: {Command}", command);
        // Its output goes where the gateway's goes: a command that backgrounds a process must never find
        // its pipes closed under it once the gateway stops reading.
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        using var process = Process.Start(info)
            ?? throw new InvalidOperationException("could not start /bin/sh for the restart command");
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode != 0)
        {
            // The command may still have restarted Chromium (supervisorctl is picky about exit codes), so the
            // readiness wait decides; the operator gets the hint in the log.
            _logger.LogWarning("The restart command exited with code {ExitCode}", process.ExitCode);
        }
    }
}
