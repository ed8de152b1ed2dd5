using System.ComponentModel;
using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// Starts the supervisor's browsers, one generation after another: prepares the data directory and profile, builds
/// the command line from the options and the runtime flags, starts the process in its own group, follows its output
/// for the DevTools line and probes it until <c>Browser.getVersion</c> answers.
/// </summary>
internal sealed class ChromiumLauncher : IDisposable
{
    private readonly GatewayOptions _options;
    private readonly SupervisionState _state;
    private readonly LaunchFlags _flags;
    private readonly BrowserReadiness _readiness;
    private readonly DevToolsUrlTracker _tracker;
    private readonly IEventPublisher _events;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationToken _shutdown;
    private ProcessLauncherThread? _thread;
    private string? _executable;

    public ChromiumLauncher(GatewayOptions options, SupervisionState state, LaunchFlags flags, BrowserReadiness readiness,
        DevToolsUrlTracker tracker, IEventPublisher events, TimeProvider time, ILogger logger, CancellationToken shutdown)
    {
        _options = options;
        _state = state;
        _flags = flags;
        _readiness = readiness;
        _tracker = tracker;
        _events = events;
        _time = time;
        _logger = logger;
        _shutdown = shutdown;
    }

    /// <summary>Null until <see cref="FindExecutable"/>.</summary>
    public string? Executable => _executable;

    /// <summary>What would be started with <paramref name="flags"/>, for the status; null before <see cref="FindExecutable"/>.</summary>
    public IReadOnlyList<string>? CommandLine(IReadOnlyList<string> flags) =>
        _executable is null ? null : LaunchedChromium.LaunchChain(_executable, ChromiumCommandLine.Build(_options, flags));

    /// <summary>Throws when there is no executable, before anything else of the start is done.</summary>
    public void FindExecutable() => _executable = ChromiumExecutable.Resolve(_options.Chromium);

    /// <summary>Starts the thread every browser is spawned from (see <see cref="ProcessLauncherThread"/>).</summary>
    public void Open() => _thread = new ProcessLauncherThread();

    /// <summary>
    /// <see cref="Launch"/> for the loop, which must go on when a launch fails: the failure is logged and reported, and
    /// the flags on trial fall back; null then.
    /// </summary>
    public LaunchedChromium? TryLaunch()
    {
        try
        {
            return Launch();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            _logger.LogError("Chromium could not be started from '{Executable}': {Message}", _executable, e.Message);
            _state.SetLastError(e.Message);
            _flags.Fail(_state.Generation, $"Chromium could not be started: {e.Message}");
            return null;
        }
    }

    public LaunchedChromium Launch()
    {
        DataDirectory.Prepare(_options, _logger);
        var profile = ChromiumCommandLine.ProfileDir(_options);
        ProfileLocks.Clear(profile, _logger);
        var arguments = ChromiumCommandLine.Build(_options, _flags.Current);
        var generation = _state.BeginLaunch();
        var running = LaunchedChromium.Start(_thread!, _executable!, arguments, generation, _time, _logger, OnOutputLine,
            ChromiumCommandLine.Environment(_options), beforeOutput: _state.Adopt);
        _logger.LogInformation("Started Chromium {Executable} (pid {Pid}, generation {Generation})", _executable, running.Pid, generation);
        _logger.LogDebug("Chromium arguments (names only): {Arguments}", FlagPolicy.Names(arguments));
        return running;
    }

    private void OnOutputLine(LaunchedChromium running, string line)
    {
        if (!DevToolsLineParser.TryParse(line, out var url))
        {
            _state.KeepOutputLine(running, line);
            _logger.LogDebug("Chromium (pid {Pid}): {Line}", running.Pid, line);
            return;
        }
        _logger.LogInformation("Chromium (pid {Pid}): {Line}", running.Pid, line);
        url = DevToolsUrl.Normalize(url);
        if (!_state.TryAnnounce(running, url, _time.GetTimestamp()))
        {
            return;
        }
        var startup = _time.GetElapsedTime(running.StartedAt, running.AnnouncedAt!.Value);
        _tracker.Set(url);
        _events.Publish(ChromiumEventTypes.Started, EventCategory.System,
            new ChromiumStartedData(running.Pid, running.Generation, url, Math.Round(startup.TotalMilliseconds, 3)),
            TelemetryJsonContext.Default.ChromiumStartedData);
        _ = ProbeAsync(running, url);
    }

    private async Task ProbeAsync(LaunchedChromium running, string url)
    {
        await _readiness.ProbeUntilReadyAsync(running.Generation, url, () => _state.IsCurrent(running), _shutdown, answered =>
        {
            // Before readiness wakes a waiting restart, which reads these for its phases.
            running.AnsweredAt = answered;
            _state.Answered(running);
        }).ConfigureAwait(false);
        if (!_state.TryMarkReady(running, _readiness.ReadyGeneration, PublishReady))
        {
            return;
        }
        _flags.Confirm(running.Generation);
        _logger.LogInformation("Chromium (pid {Pid}) is ready: Browser.getVersion answered {Elapsed} ms after its DevTools line, {Launch} ms after its launch",
            running.Pid, LogMilliseconds.Of(_time.GetElapsedTime(running.AnnouncedAt!.Value, running.AnsweredAt!.Value)),
            LogMilliseconds.Of(_time.GetElapsedTime(running.StartedAt, running.AnsweredAt!.Value)));
    }

    /// <summary>Its <c>chromium_started</c> came first: this runs once its probe answered, which follows the announcement.</summary>
    private void PublishReady(LaunchedChromium running) =>
        _events.Publish(ChromiumEventTypes.Ready, EventCategory.System,
            ChromiumReadyData.Of(running.Pid, running.Generation, running.DevToolsUrl!, running.AnnouncedToAnswered(_time)!.Value),
            TelemetryJsonContext.Default.ChromiumReadyData);

    public void Dispose() => _thread?.Dispose();
}
