using System.ComponentModel;
using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// Launch mode: owns one Chromium at a time. Launches it, learns its DevTools URL from its output, finds it
/// ready (<c>Browser.getVersion</c>), brings it back after a crash with backoff (250 ms doubling to 10 s,
/// reset after a minute of healthy uptime; three quick deaths in a row is a crash loop, retried at the cap),
/// restarts it on request or with new flags (serialized), and stops it with its whole process group. A
/// browser that is not ready (DevTools line and <c>Browser.getVersion</c> answered) within <see cref="StartTimeout"/> is
/// killed and counts as a crash. A ready browser that stops answering without exiting (stopped, hung) is reported
/// <c>unreachable</c> by a <see cref="ReachabilityWatch"/>, and ready again once it answers.
/// One loop task makes every start and stop decision, so no two launches ever race; requests only signal it.
/// Every timer runs on the injected <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// This class wires the parts and keeps the public surface: <see cref="ChromiumLauncher"/> starts browsers,
/// <see cref="ChromiumExitRecorder"/> ends them and records their ends, <see cref="CrashBackoff"/> spaces launches
/// after crashes, <see cref="LaunchFlags"/> keeps the runtime flags and their trial, <see cref="RestartRequests"/>
/// serializes operators' requests, <see cref="SupervisionLoop"/> decides, and <see cref="SupervisionState"/> holds
/// what the status reports.
/// </remarks>
public sealed class ChromiumSupervisor : IChromiumControl
{
    public static readonly TimeSpan InitialBackoff = CrashBackoff.Initial;
    public static readonly TimeSpan MaxBackoff = CrashBackoff.Max;
    public static readonly TimeSpan HealthyUptime = CrashBackoff.HealthyUptime;
    public static readonly TimeSpan StopGrace = ChromiumExitRecorder.StopGrace;

    /// <summary>How long a launched browser may take to print its DevTools line before it is killed as hung.</summary>
    public static readonly TimeSpan StartTimeout = SupervisionLoop.StartTimeout;

    /// <summary>Quick deaths in a row (each before <see cref="HealthyUptime"/>) that make a crash loop.</summary>
    public const int CrashLoopThreshold = CrashBackoff.CrashLoopThreshold;

    private readonly TimeProvider _time;
    private readonly ILogger<ChromiumSupervisor> _logger;
    private readonly BrowserReadiness _readiness;
    private readonly ReachabilityWatch _watch;
    private readonly SupervisionState _state = new();
    private readonly CrashBackoff _backoff;
    private readonly LaunchFlags _flags;
    private readonly ChromiumLauncher _launcher;
    private readonly RestartRequests _requests;
    private readonly SupervisionLoop _supervision;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _shutdownRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private int _disposed;

    public ChromiumSupervisor(GatewayOptions options, DevToolsUrlTracker tracker, IEventPublisher events, TimeProvider time, ILogger<ChromiumSupervisor> logger,
        TimeSpan? probeInterval = null, TimeSpan? probeTimeout = null)
    {
        _time = time;
        _logger = logger;
        _readiness = new BrowserReadiness(time);
        _watch = new ReachabilityWatch(_readiness, tracker, events, time, logger, probeInterval, probeTimeout, _state.CurrentIsExiting);
        _backoff = new CrashBackoff(time);
        _flags = new LaunchFlags(options, logger);
        _launcher = new ChromiumLauncher(options, _state, _flags, _readiness, tracker, events, time, logger, _shutdown.Token);
        _requests = new RestartRequests(_state, _flags, _readiness, tracker, time, logger,
            () => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this), () => Status, _shutdown.Token);
        var exits = new ChromiumExitRecorder(_state, _backoff, _flags, _readiness, events, time, logger);
        _supervision = new SupervisionLoop(_state, _launcher, exits, _backoff, _requests, time, logger, _shutdownRequested.Task, _shutdown.Token);
    }

    public bool IsReady => _readiness.IsReady;

    /// <summary>The watch over the ready browser.</summary>
    internal ReachabilityWatch Reachability => _watch;

    public string? ReplacedDevToolsUrl => _state.ReplacedUrl;

    /// <summary>When the current browser's start timeout fires (a timestamp), once its timer exists; for tests.</summary>
    internal long? StartDeadline => _state.StartDeadline;

    public IReadOnlyList<string> Flags => _flags.Current;

    /// <summary>The pid of the running Chromium, or null between runs.</summary>
    public int? Pid => _state.Current?.Pid;

    public ChromiumStatus Status
    {
        get
        {
            var flags = _flags.Current;
            return _state.Report(_time, _readiness, _watch, _backoff, flags, _flags.Error, _launcher.CommandLine(flags));
        }
    }

    /// <summary>Checks the executable, loads the persisted flags and launches Chromium; returns once it is launched.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_loop is not null)
        {
            throw new InvalidOperationException("Chromium is already started.");
        }
        _launcher.FindExecutable();
        var flags = _flags.LoadAtStart(_state.Generation);
        _watch.Start();
        _launcher.Open();
        LaunchedChromium first;
        try
        {
            first = _launcher.Launch();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException && flags.Count > 0)
        {
            // The persisted flags may be what keeps it from starting: one more try without them before giving up.
            _logger.LogError("Chromium could not be started from '{Executable}' with the runtime flags: {Message}", _launcher.Executable, e.Message);
            _flags.Fail(_state.Generation, $"Chromium could not be started: {e.Message}");
            first = LaunchOrThrow();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            throw CouldNotStart(e);
        }
        _loop = Task.Run(() => _supervision.RunAsync(first), CancellationToken.None);
        return Task.CompletedTask;
    }

    private LaunchedChromium LaunchOrThrow()
    {
        try
        {
            return _launcher.Launch();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            throw CouldNotStart(e);
        }
    }

    private InvalidOperationException CouldNotStart(Exception e) =>
        new($"Chromium could not be started from '{_launcher.Executable}': {e.Message}", e);

    public Task<ChromiumRestartResult> RestartAsync(CancellationToken cancellationToken) => _requests.RestartAsync(cancellationToken);

    public Task<ChromiumRestartResult> ChangeFlagsAsync(IReadOnlyList<string> flags, bool replace, CancellationToken cancellationToken) =>
        _requests.ChangeFlagsAsync(flags, replace, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _shutdownRequested.TrySetResult();
        await _shutdown.CancelAsync().ConfigureAwait(false);
        await _watch.DisposeAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        _launcher.Dispose();
    }
}
