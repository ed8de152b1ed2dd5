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
public sealed class ChromiumSupervisor : IChromiumControl
{
    public static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan HealthyUptime = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(3);

    /// <summary>How long a launched browser may take to print its DevTools line before it is killed as hung.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Quick deaths in a row (each before <see cref="HealthyUptime"/>) that make a crash loop.</summary>
    public const int CrashLoopThreshold = 3;

    private readonly GatewayOptions _options;
    private readonly DevToolsUrlTracker _tracker;
    private readonly IEventPublisher _events;
    private readonly TimeProvider _time;
    private readonly ILogger<ChromiumSupervisor> _logger;
    private readonly RuntimeFlags _flags;
    private readonly FlagPolicy _policy;
    private readonly BrowserReadiness _readiness;
    private readonly SemaphoreSlim _restartGate = new(1, 1);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _shutdownRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private ProcessLauncherThread? _launcher;
    private string? _executable;
    private Task? _loop;
    private TaskCompletionSource _restartRequest = NewSignal();
    private int _disposed;

    // Guarded by _gate.
    private string _state = ChromiumState.Starting;
    private LaunchedChromium? _current;
    private long _generation;
    private long _restarts;
    private string? _replacedUrl;
    private ChromiumExit? _lastExit;
    private string? _lastError;
    private int _consecutiveCrashes;
    private TimeSpan _nextBackoff = InitialBackoff;
    private long? _nextStartAt;
    private long? _startDeadline;
    private LaunchedChromium? _restartStopped;
    private LaunchedChromium? _readyRun;
    private string? _flagsError;
    private FlagTrial? _trial;
    private string? _lastOutputLine;

    private readonly ReachabilityWatch _watch;

    public ChromiumSupervisor(GatewayOptions options, DevToolsUrlTracker tracker, IEventPublisher events, TimeProvider time, ILogger<ChromiumSupervisor> logger,
        TimeSpan? probeInterval = null, TimeSpan? probeTimeout = null)
    {
        _options = options;
        _tracker = tracker;
        _events = events;
        _time = time;
        _logger = logger;
        _flags = new RuntimeFlags(options.DataDir);
        _policy = new FlagPolicy(options.AllowRuntimeFlags, ChromiumCommandLine.RunsWithoutSandbox(options));
        _readiness = new BrowserReadiness(time);
        _watch = new ReachabilityWatch(_readiness, tracker, events, time, logger, probeInterval, probeTimeout, CurrentIsExiting);
    }

    /// <summary>
    /// A crashed browser closes its sockets a moment before its exit reaches the loop; /proc already knows, so the probe
    /// that met the closed port leaves the report to the exit.
    /// </summary>
    private bool CurrentIsExiting()
    {
        LaunchedChromium? run;
        lock (_gate)
        {
            run = _current;
        }
        return run is null || run.Exited.IsCompleted || ProcessTree.ReadStat(run.Pid) is not { State: not ('Z' or 'X') };
    }

    public bool IsReady => _readiness.IsReady;

    /// <summary>The watch over the ready browser.</summary>
    internal ReachabilityWatch Reachability => _watch;

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

    /// <summary>When the current browser's start timeout fires (a timestamp), once its timer exists; for tests.</summary>
    internal long? StartDeadline
    {
        get
        {
            lock (_gate)
            {
                return _startDeadline;
            }
        }
    }

    public IReadOnlyList<string> Flags => _flags.Current;

    /// <summary>The pid of the running Chromium, or null between runs.</summary>
    public int? Pid
    {
        get
        {
            lock (_gate)
            {
                return _current?.Pid;
            }
        }
    }

    public ChromiumStatus Status
    {
        get
        {
            lock (_gate)
            {
                var current = _current;
                var unreachable = _state == ChromiumState.Ready && _readiness.IsUnreachable;
                return new ChromiumStatus
                {
                    Mode = "launch",
                    State = unreachable ? ChromiumState.Unreachable : _state,
                    Pid = current?.Pid,
                    DevToolsUrl = current?.DevToolsUrl,
                    Generation = _generation,
                    Restarts = _restarts,
                    UptimeMs = current is null ? null : (long)_time.GetElapsedTime(current.StartedAt).TotalMilliseconds,
                    ConsecutiveCrashes = _consecutiveCrashes,
                    NextStartInMs = _nextStartAt is { } at ? Math.Max(0, (long)-_time.GetElapsedTime(at).TotalMilliseconds) : null,
                    LastExit = _lastExit,
                    LastError = unreachable ? _watch.LastError ?? _lastError : _lastError,
                    Flags = _flags.Current,
                    RuntimeFlagsError = _flagsError,
                    CommandLine = _executable is null ? null : LaunchedChromium.LaunchChain(_executable, Arguments()),
                };
            }
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
        _executable = ResolveExecutable(_options.Chromium);
        foreach (var name in _policy.Unallowable)
        {
            _logger.LogWarning("--allow-runtime-flag {Name} is ignored: the gateway sets that flag itself, so it can never be changed at run time", name);
        }
        var flags = LoadRuntimeFlags();
        if (flags.Count > 0)
        {
            // Until a browser with them is ready, a failed start drops them instead of blocking the gateway.
            lock (_gate)
            {
                _trial = new FlagTrial(Fallback: [], AfterGeneration: _generation, Persisted: false);
            }
        }
        _watch.Start();
        _launcher = new ProcessLauncherThread();
        LaunchedChromium first;
        try
        {
            first = Launch();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException && flags.Count > 0)
        {
            _logger.LogError("Chromium could not be started from '{Executable}' with the runtime flags: {Message}", _executable, e.Message);
            FailTrial(CurrentGeneration(), $"Chromium could not be started: {e.Message}");
            first = LaunchFirst();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            throw new InvalidOperationException($"Chromium could not be started from '{_executable}': {e.Message}", e);
        }
        _loop = Task.Run(() => SuperviseAsync(first), CancellationToken.None);
        return Task.CompletedTask;
    }

    private LaunchedChromium LaunchFirst()
    {
        try
        {
            return Launch();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            throw new InvalidOperationException($"Chromium could not be started from '{_executable}': {e.Message}", e);
        }
    }

    /// <summary>
    /// The persisted flags, or none when the file is unreadable or fails the policy (edited by hand, or a policy
    /// tightened since): that is reported in the status and logged, and the gateway starts without them.
    /// </summary>
    private IReadOnlyList<string> LoadRuntimeFlags()
    {
        IReadOnlyList<string> flags;
        try
        {
            flags = _flags.Load();
        }
        catch (InvalidDataException e)
        {
            return IgnorePersistedFlags(e.Message);
        }
        if (_policy.Check(flags) is { } refusal)
        {
            return IgnorePersistedFlags($"{_flags.FilePath}: {refusal.Message}");
        }
        if (flags.Count > 0)
        {
            _logger.LogInformation("Runtime Chromium flags from {Path}: {Flags}", _flags.FilePath, FlagPolicy.Names(flags));
        }
        return flags;
    }

    private IReadOnlyList<string> IgnorePersistedFlags(string reason)
    {
        _flags.Use([]);
        lock (_gate)
        {
            _flagsError = reason + "; the persisted runtime flags are ignored until the next change through /chromium/flags";
        }
        _logger.LogError("Ignoring the persisted runtime flags: {Reason}", reason);
        return [];
    }

    private long CurrentGeneration()
    {
        lock (_gate)
        {
            return _generation;
        }
    }

    /// <summary>
    /// A browser launched with flags on trial did not start (its exec failed, or it ended or was killed before it was ready):
    /// the flags before them become current again, and the next launch uses those. Flags changed through the API are
    /// persisted back too, so a gateway restart never meets them; persisted flags that failed at start are reported.
    /// </summary>
    private void FailTrial(long generation, string reason)
    {
        FlagTrial? trial;
        lock (_gate)
        {
            trial = _trial;
            if (trial is null || generation <= trial.AfterGeneration)
            {
                return;
            }
            _trial = null;
        }
        var failed = _flags.Current;
        if (trial.Persisted)
        {
            try
            {
                _flags.Save(trial.Fallback);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _flags.Use(trial.Fallback);
                _logger.LogError("Could not persist the previous runtime flags again: {Message}", e.Message);
            }
            _logger.LogError("Chromium did not start with the runtime flags {Flags} ({Reason}); back to {Previous}",
                FlagPolicy.Names(failed), reason, trial.Fallback.Count == 0 ? "none" : FlagPolicy.Names(trial.Fallback));
        }
        else
        {
            _flags.Use(trial.Fallback);
            lock (_gate)
            {
                _flagsError = $"Chromium did not start with the runtime flags in {_flags.FilePath} ({reason}); they are ignored until the next change through /chromium/flags";
            }
            _logger.LogError("Chromium did not start with the runtime flags {Flags} from {Path} ({Reason}); ignoring them",
                FlagPolicy.Names(failed), _flags.FilePath, reason);
        }
        trial.Failed.TrySetResult(reason);
    }

    /// <summary>Why a browser that never became ready ended, with its last line of output when it printed one.</summary>
    private string NotReadyReason(LaunchedChromium running, ChromiumExit exit)
    {
        string? line;
        lock (_gate)
        {
            line = _current is null || _current == running ? _lastOutputLine : null;
        }
        var said = string.IsNullOrWhiteSpace(line) ? "" : $"; its last output: {(line.Length > 300 ? line[..300] + "..." : line)}";
        var stage = running.Announced.IsCompleted ? "after announcing DevTools but before answering Browser.getVersion" : "without announcing DevTools";
        return $"Chromium exited ({Describe(exit)}) after {exit.UptimeMs} ms {stage}{said}";
    }

    public async Task<ChromiumRestartResult> RestartAsync(CancellationToken cancellationToken)
    {
        await _restartGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RestartAndWaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _restartGate.Release();
        }
    }

    public async Task<ChromiumRestartResult> ChangeFlagsAsync(IReadOnlyList<string> flags, bool replace, CancellationToken cancellationToken)
    {
        await _restartGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = _flags.Current;
            var next = ChromiumCommandLine.Merge(replace ? [] : current, flags);
            if (_policy.Check(next) is { } refusal)
            {
                _logger.LogWarning("Refused a runtime flag change: {Reason}", refusal.Message);
                throw new ChromiumFlagsRefusedException(refusal.Message);
            }
            if (next.SequenceEqual(current, StringComparer.Ordinal))
            {
                // Nothing changes: no reason to take the browser away from its clients.
                return new ChromiumRestartResult(_tracker.Current, _readiness.ReadyGeneration, TimeSpan.Zero, current, Restarted: false);
            }
            var trial = new FlagTrial(current, CurrentGeneration(), Persisted: true);
            lock (_gate)
            {
                _trial = trial;
            }
            _flags.Save(next);
            lock (_gate)
            {
                _flagsError = null;
            }
            _logger.LogInformation("Runtime Chromium flags are now: {Flags}; restarting Chromium", FlagPolicy.Names(next));
            return await RestartAndWaitAsync(cancellationToken, trial.Failed.Task).ConfigureAwait(false);
        }
        finally
        {
            _restartGate.Release();
        }
    }

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
        _launcher?.Dispose();
    }

    /// <summary>
    /// Asks the loop to restart and waits until a newer generation is ready. Call with the restart gate held. When
    /// <paramref name="flagsFailed"/> completes first, the new flags kept Chromium from starting and the loop went back
    /// to the previous ones: the wait goes on for the browser with those, then throws <see cref="ChromiumFlagsFailedException"/>.
    /// </summary>
    private async Task<ChromiumRestartResult> RestartAndWaitAsync(CancellationToken cancellationToken, Task<string>? flagsFailed = null)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var started = _time.GetTimestamp();
        long before;
        lock (_gate)
        {
            before = _generation;
        }
        Volatile.Read(ref _restartRequest).TrySetResult();
        using var limit = new CancellationTokenSource(BrowserReadiness.Limit, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancellationToken, _shutdown.Token);
        var ready = _readiness.WaitReadyAfterAsync(before, linked.Token);
        if (flagsFailed is not null && await Task.WhenAny(ready, flagsFailed).ConfigureAwait(false) == flagsFailed)
        {
            var reason = await flagsFailed.ConfigureAwait(false);
            string restored;
            try
            {
                // Only a browser with the previous flags can become ready now: the failed one never did.
                await ready.ConfigureAwait(false);
                restored = "Chromium runs with them again";
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                restored = $"Chromium was not ready with them within {BrowserReadiness.Limit.TotalSeconds:0} s of the change";
            }
            var previous = _flags.Current;
            throw new ChromiumFlagsFailedException(
                $"Chromium did not start with the new flags: {reason}. The previous flags ({(previous.Count == 0 ? "none" : FlagPolicy.Names(previous))}) " +
                $"are restored and persisted; {restored}", Status);
        }
        try
        {
            var (generation, url) = await ready.ConfigureAwait(false);
            var end = _time.GetTimestamp();
            var elapsed = _time.GetElapsedTime(started, end);
            var phases = Phases(started, end, generation);
            if (phases is null)
            {
                _logger.LogInformation("Chromium restarted and ready in {Elapsed} ms: {Url}", Ms(elapsed), url);
            }
            else
            {
                _logger.LogInformation(
                    "Chromium restarted and ready in {Elapsed} ms: stop {Stop} ms, launch to DevTools line {Launch} ms, " +
                    "DevTools line to Browser.getVersion {Ready} ms, gateway {Gateway} ms (request to stop {RequestToStop} ms, " +
                    "stopped to launch {StoppedToLaunch} ms, ready to answer {ReadyToAnswer} ms): {Url}",
                    Ms(elapsed), Ms(phases.Stop), Ms(phases.LaunchToDevTools), Ms(phases.DevToolsToReady), Ms(phases.Gateway),
                    Ms(phases.RequestToStop), Ms(phases.StoppedToLaunch), Ms(phases.ReadyToAnswer), url);
            }
            return new ChromiumRestartResult(url, generation, elapsed, _flags.Current, Restarted: true) { Phases = phases };
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ChromiumNotReadyException(
                $"Chromium was not ready within {BrowserReadiness.Limit.TotalSeconds:0} s of the restart", Status);
        }
    }

    /// <summary>
    /// Splits a restart (<paramref name="started"/> to <paramref name="end"/>) into Chromium's phases and the
    /// gateway's steps between them; null when the ready browser is not the one this restart launched.
    /// </summary>
    private RestartPhases? Phases(long started, long end, long generation)
    {
        LaunchedChromium? run;
        LaunchedChromium? stopped;
        lock (_gate)
        {
            run = _readyRun;
            stopped = _restartStopped;
        }
        if (run is null || run.Generation != generation || run.AnnouncedAt is not { } announced || run.AnsweredAt is not { } answered
            || run.StartedAt < started)
        {
            return null;
        }
        var launchToDevTools = _time.GetElapsedTime(run.StartedAt, announced);
        var devToolsToReady = _time.GetElapsedTime(announced, answered);
        var readyToAnswer = _time.GetElapsedTime(answered, end);
        TimeSpan? stop = null, requestToStop = null, stoppedToLaunch = null;
        // The stop of this restart, directly followed by this launch (no failed launch or crash in between).
        if (stopped is { StopSentAt: { } sent, GoneAt: { } gone } && stopped.Generation == generation - 1 && sent >= started)
        {
            stop = _time.GetElapsedTime(sent, gone);
            requestToStop = _time.GetElapsedTime(started, sent);
            stoppedToLaunch = _time.GetElapsedTime(gone, run.StartedAt);
        }
        var gateway = _time.GetElapsedTime(started, end) - (stop ?? TimeSpan.Zero) - launchToDevTools - devToolsToReady;
        return new RestartPhases(stop, launchToDevTools, devToolsToReady, gateway, requestToStop, stoppedToLaunch, readyToAnswer);
    }

    private static double? Ms(TimeSpan? span) => span is { } s ? Math.Round(s.TotalMilliseconds, 1) : null;

    private async Task SuperviseAsync(LaunchedChromium? running)
    {
        try
        {
            await SuperviseLoopAsync(running).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Never expected; without this the gateway would silently stop supervising.
            _logger.LogCritical(e, "Chromium supervision failed");
            lock (_gate)
            {
                _state = ChromiumState.Stopped;
                _lastError = e.Message;
            }
        }
    }

    private async Task SuperviseLoopAsync(LaunchedChromium? running)
    {
        var shutdown = _shutdownRequested.Task;
        while (true)
        {
            var request = Volatile.Read(ref _restartRequest).Task;
            if (running is not null)
            {
                var hung = await WaitWhileRunningAsync(running, request, shutdown).ConfigureAwait(false);
                if (shutdown.IsCompleted)
                {
                    await StopAsync(running, ChromiumExitCause.Shutdown).ConfigureAwait(false);
                    await running.CleanedUp.ConfigureAwait(false);
                    return;
                }
                if (request.IsCompleted && !running.Exited.IsCompleted)
                {
                    TakeRestartRequest();
                    lock (_gate)
                    {
                        _replacedUrl = running.DevToolsUrl ?? _replacedUrl;
                    }
                    SetState(ChromiumState.Restarting);
                    await StopAsync(running, ChromiumExitCause.Restart).ConfigureAwait(false);
                    running = TryLaunch();
                    continue;
                }
                if (hung)
                {
                    await KillHungAsync(running).ConfigureAwait(false);
                }
                else
                {
                    await RecordCrashAsync(running, reason: null).ConfigureAwait(false);
                }
            }
            else
            {
                RecordFailedLaunch();
            }

            // Backoff: a restart request or shutdown cuts it short.
            TimeSpan delay;
            lock (_gate)
            {
                delay = _nextBackoff;
                _nextBackoff = TimeSpan.FromTicks(Math.Min(_nextBackoff.Ticks * 2, MaxBackoff.Ticks));
            }
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token))
            {
                var timer = Task.Delay(delay, _time, wait.Token);
                lock (_gate)
                {
                    // Published after the timer exists, so whoever reads it and moves a test clock moves this timer.
                    _nextStartAt = _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);
                }
                await Task.WhenAny(timer, request, shutdown).ConfigureAwait(false);
                await wait.CancelAsync().ConfigureAwait(false);
            }
            lock (_gate)
            {
                _nextStartAt = null;
            }
            if (shutdown.IsCompleted)
            {
                SetState(ChromiumState.Stopped);
                return;
            }
            if (request.IsCompleted)
            {
                TakeRestartRequest();
                SetState(ChromiumState.Restarting);
            }
            running = TryLaunch();
        }
    }

    /// <summary>
    /// Waits until the browser exits, a restart or shutdown is asked for, or (true) it has not become ready (its
    /// DevTools line, then an answer to <c>Browser.getVersion</c>) within <see cref="StartTimeout"/> of its launch.
    /// </summary>
    private async Task<bool> WaitWhileRunningAsync(LaunchedChromium running, Task request, Task shutdown)
    {
        if (running.Ready.IsCompleted)
        {
            await Task.WhenAny(running.Exited, request, shutdown).ConfigureAwait(false);
            return false;
        }
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
        var remaining = StartTimeout - _time.GetElapsedTime(running.StartedAt);
        var timer = remaining > TimeSpan.Zero ? Task.Delay(remaining, _time, cancel.Token) : Task.CompletedTask;
        lock (_gate)
        {
            // Published after the timer exists, so whoever reads it and moves a test clock moves this timer.
            _startDeadline = running.StartedAt + (long)(StartTimeout.TotalSeconds * _time.TimestampFrequency);
        }
        try
        {
            var first = await Task.WhenAny(running.Exited, request, shutdown, running.Ready, timer).ConfigureAwait(false);
            if (first == running.Ready && !running.Exited.IsCompleted && !request.IsCompleted && !shutdown.IsCompleted)
            {
                lock (_gate)
                {
                    _startDeadline = null;
                }
                await Task.WhenAny(running.Exited, request, shutdown).ConfigureAwait(false);
                return false;
            }
            return timer.IsCompleted && !running.Ready.IsCompleted
                && !running.Exited.IsCompleted && !request.IsCompleted && !shutdown.IsCompleted;
        }
        finally
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            lock (_gate)
            {
                _startDeadline = null;
            }
        }
    }

    /// <summary>
    /// A browser that never became ready (no DevTools line, or a line but no answer to <c>Browser.getVersion</c>):
    /// killed with its group, recorded as a crash, retried with the backoff.
    /// </summary>
    private async Task KillHungAsync(LaunchedChromium running)
    {
        var (what, reason) = running.Announced.IsCompleted
            ? ("answered", $"no Browser.getVersion within {StartTimeout.TotalSeconds:0} s")
            : ("printed", $"no DevTools line within {StartTimeout.TotalSeconds:0} s");
        _logger.LogError("Chromium (pid {Pid}) {What} {Reason} of its launch; killing its process group", running.Pid, what, reason);
        _readiness.MarkNotReady();
        await running.ReapAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _lastError = $"Chromium {what} {reason} of its launch";
        }
        await RecordCrashAsync(running, reason).ConfigureAwait(false);
    }

    /// <summary>Consumes the pending restart request; an operator's restart starts afresh, without backoff.</summary>
    private void TakeRestartRequest()
    {
        Interlocked.Exchange(ref _restartRequest, NewSignal());
        lock (_gate)
        {
            _nextBackoff = InitialBackoff;
            _consecutiveCrashes = 0;
        }
    }

    private void SetState(string state)
    {
        lock (_gate)
        {
            _state = state;
        }
    }

    private LaunchedChromium? TryLaunch()
    {
        try
        {
            return Launch();
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            _logger.LogError("Chromium could not be started from '{Executable}': {Message}", _executable, e.Message);
            lock (_gate)
            {
                _lastError = e.Message;
            }
            FailTrial(CurrentGeneration(), $"Chromium could not be started: {e.Message}");
            return null;
        }
    }

    private LaunchedChromium Launch()
    {
        DataDirectory.Prepare(_options, _logger);
        var profile = ChromiumCommandLine.ProfileDir(_options);
        ProfileLocks.Clear(profile, _logger);
        var arguments = Arguments();
        long generation;
        lock (_gate)
        {
            generation = ++_generation;
            if (generation > 1)
            {
                _restarts++;
            }
            if (_state != ChromiumState.Restarting)
            {
                _state = ChromiumState.Starting;
            }
        }
        // The browser is current before its first line is read: OnOutputLine ignores lines of any other.
        var running = LaunchedChromium.Start(_launcher!, _executable!, arguments, generation, _time, _logger, OnOutputLine,
            ChromiumCommandLine.Environment(_options), beforeOutput: started =>
            {
                lock (_gate)
                {
                    _current = started;
                    _lastError = null;
                    _lastOutputLine = null;
                }
            });
        _logger.LogInformation("Started Chromium {Executable} (pid {Pid}, generation {Generation})", _executable, running.Pid, generation);
        _logger.LogDebug("Chromium arguments (names only): {Arguments}", FlagPolicy.Names(arguments));
        return running;
    }

    private IReadOnlyList<string> Arguments() => ChromiumCommandLine.Build(_options, _flags.Current);

    private void OnOutputLine(LaunchedChromium running, string line)
    {
        if (!DevToolsLineParser.TryParse(line, out var url))
        {
            lock (_gate)
            {
                if (_current == running && !running.WasReady)
                {
                    _lastOutputLine = line;
                }
            }
            _logger.LogDebug("Chromium (pid {Pid}): {Line}", running.Pid, line);
            return;
        }
        _logger.LogInformation("Chromium (pid {Pid}): {Line}", running.Pid, line);
        url = DevToolsUrl.Normalize(url);
        lock (_gate)
        {
            if (_current != running || running.DevToolsUrl is not null)
            {
                return; // a browser already being replaced, or a repeated announcement
            }
            running.MarkAnnounced(url, _time.GetTimestamp());
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
        await _readiness.ProbeUntilReadyAsync(running.Generation, url, () => IsCurrent(running), _shutdown.Token, answered =>
        {
            // Before readiness wakes a waiting restart, which reads these for its phases.
            running.AnsweredAt = answered;
            lock (_gate)
            {
                _readyRun = running;
            }
        }).ConfigureAwait(false);
        var ready = false;
        lock (_gate)
        {
            if (_current == running && !running.Exited.IsCompleted && _readiness.ReadyGeneration == running.Generation)
            {
                running.MarkReady();
                ready = true;
                _state = ChromiumState.Ready;
                if (_trial is { } trial && running.Generation > trial.AfterGeneration)
                {
                    // The flags on trial got a browser all the way to ready: they no longer fall back.
                    _trial = null;
                }
            }
        }
        if (ready)
        {
            _logger.LogInformation("Chromium (pid {Pid}) is ready: Browser.getVersion answered {Elapsed} ms after its DevTools line, {Launch} ms after its launch",
                running.Pid, Ms(_time.GetElapsedTime(running.AnnouncedAt!.Value, running.AnsweredAt!.Value)),
                Ms(_time.GetElapsedTime(running.StartedAt, running.AnsweredAt!.Value)));
        }
    }

    private bool IsCurrent(LaunchedChromium running)
    {
        lock (_gate)
        {
            return _current == running && !running.Exited.IsCompleted;
        }
    }

    private async Task StopAsync(LaunchedChromium running, string cause)
    {
        _readiness.MarkNotReady();
        if (cause == ChromiumExitCause.Shutdown)
        {
            SetState(ChromiumState.Stopped);
        }
        _logger.LogInformation("Stopping Chromium (pid {Pid}) for {Cause}", running.Pid, cause);
        var code = await running.StopAsync(StopGrace).ConfigureAwait(false);
        var exit = RecordExit(running, code, cause, reason: null);
        if (cause == ChromiumExitCause.Restart)
        {
            lock (_gate)
            {
                _restartStopped = running;
            }
        }
        _logger.LogInformation("Chromium (pid {Pid}) stopped ({Status}) after {Uptime} ms; its group was gone {Stop} ms after the stop signal",
            running.Pid, Describe(exit), exit.UptimeMs,
            running is { StopSentAt: { } sent, GoneAt: { } gone } ? Ms(_time.GetElapsedTime(sent, gone)) : null);
        Publish(exit, backoff: null, crashLoop: null);
    }

    private async Task RecordCrashAsync(LaunchedChromium running, string? reason)
    {
        _readiness.MarkNotReady();
        SetState(ChromiumState.Backoff); // at once: /health must not call a dead browser ready while its group is reaped
        var code = await running.Exited.ConfigureAwait(false);
        if (!running.WasReady)
        {
            // While it is still the current browser, whose lines are kept: they say why it did not start.
            await running.WaitForOutputAsync().ConfigureAwait(false);
        }
        await running.ReapAsync().ConfigureAwait(false);
        var exit = RecordExit(running, code, ChromiumExitCause.Crash, reason);
        if (!running.WasReady)
        {
            // Before the backoff, so the next launch already goes without the flags that kept this one from starting.
            FailTrial(running.Generation, reason is null ? NotReadyReason(running, exit) : $"{reason} of its launch");
        }
        TimeSpan backoff;
        bool crashLoop;
        lock (_gate)
        {
            if (running.WasReady && exit.UptimeMs >= HealthyUptime.TotalMilliseconds)
            {
                _nextBackoff = InitialBackoff;
                _consecutiveCrashes = 0;
            }
            _consecutiveCrashes++;
            crashLoop = _consecutiveCrashes >= CrashLoopThreshold;
            _state = crashLoop ? ChromiumState.CrashLoop : ChromiumState.Backoff;
            backoff = _nextBackoff;
        }
        if (reason is not null)
        {
            _logger.LogError("Chromium (pid {Pid}) killed ({Status}) after {Uptime} ms: {Reason}; {Loop}next start in {Backoff} ms",
                running.Pid, Describe(exit), exit.UptimeMs, reason,
                crashLoop ? $"crash loop ({_consecutiveCrashes} in a row); " : "", (long)backoff.TotalMilliseconds);
        }
        else if (crashLoop)
        {
            _logger.LogError("Chromium (pid {Pid}) exited unexpectedly ({Status}) after {Uptime} ms: crash loop ({Count} in a row); next start in {Backoff} ms",
                running.Pid, Describe(exit), exit.UptimeMs, _consecutiveCrashes, (long)backoff.TotalMilliseconds);
        }
        else
        {
            _logger.LogWarning("Chromium (pid {Pid}) exited unexpectedly ({Status}) after {Uptime} ms; next start in {Backoff} ms",
                running.Pid, Describe(exit), exit.UptimeMs, (long)backoff.TotalMilliseconds);
        }
        Publish(exit, backoff, crashLoop);
    }

    /// <summary>A start that failed before there was a process counts as a crash for the backoff.</summary>
    private void RecordFailedLaunch()
    {
        lock (_gate)
        {
            _consecutiveCrashes++;
            _state = _consecutiveCrashes >= CrashLoopThreshold ? ChromiumState.CrashLoop : ChromiumState.Backoff;
        }
    }

    private ChromiumExit RecordExit(LaunchedChromium running, int dotnetExitCode, string cause, string? reason)
    {
        var (exitCode, signal) = ChromiumExit.Describe(dotnetExitCode);
        var exit = new ChromiumExit(running.Pid, running.Generation, exitCode, signal,
            (long)_time.GetElapsedTime(running.StartedAt).TotalMilliseconds, cause, _time.GetUtcNow(), reason);
        lock (_gate)
        {
            _lastExit = exit;
            if (_current == running)
            {
                _current = null;
            }
        }
        return exit;
    }

    private void Publish(ChromiumExit exit, TimeSpan? backoff, bool? crashLoop) =>
        _events.Publish(ChromiumEventTypes.Exited, EventCategory.System, new ChromiumExitedData
        {
            Pid = exit.Pid,
            Generation = exit.Generation,
            ExitCode = exit.ExitCode,
            Signal = exit.Signal,
            UptimeMs = exit.UptimeMs,
            Cause = exit.Cause,
            BackoffMs = backoff?.TotalMilliseconds,
            CrashLoop = crashLoop,
        }, TelemetryJsonContext.Default.ChromiumExitedData);

    private static string Describe(ChromiumExit exit) => exit.Signal ?? $"exit code {exit.ExitCode}";

    /// <summary>
    /// Flags not yet seen to start a browser: launches after <paramref name="AfterGeneration"/> use them, and one that
    /// fails before it is ready puts <paramref name="Fallback"/> back (persisting it when <paramref name="Persisted"/>).
    /// </summary>
    private sealed record FlagTrial(IReadOnlyList<string> Fallback, long AfterGeneration, bool Persisted)
    {
        public TaskCompletionSource<string> Failed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Finds the executable: a path is checked as given, a bare name is looked up in PATH.</summary>
    internal static string ResolveExecutable(string chromium)
    {
        const string hint = "install Debian's chromium package or pass --chromium PATH";
        if (string.IsNullOrWhiteSpace(chromium))
        {
            throw new FileNotFoundException($"No Chromium executable configured: {hint}");
        }
        if (chromium.Contains('/'))
        {
            var full = Path.GetFullPath(chromium);
            if (!File.Exists(full))
            {
                throw new FileNotFoundException($"Chromium not found at '{chromium}': {hint}", full);
            }
            if (!IsExecutable(full))
            {
                throw new FileNotFoundException($"Chromium at '{chromium}' is not executable: {hint}", full);
            }
            return full;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, chromium);
            if (File.Exists(candidate) && IsExecutable(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"Chromium not found at '{chromium}' (searched PATH): {hint}", chromium);
    }

    private static bool IsExecutable(string path)
    {
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & anyExecute) != 0;
    }
}
