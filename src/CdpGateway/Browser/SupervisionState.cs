namespace CdpGateway.Browser;

/// <summary>
/// What the supervisor knows about its browsers: which run is current, how many there were, the state it reports and
/// the last exit and error. One lock guards it all, so a status never mixes two moments and a line or probe of a
/// browser already being replaced is told apart from the current one's.
/// </summary>
internal sealed class SupervisionState
{
    private readonly Lock _gate = new();

    // Guarded by _gate.
    private string _state = ChromiumState.Starting;
    private LaunchedChromium? _current;
    private long _generation;
    private long _restarts;
    private string? _replacedUrl;
    private ChromiumExit? _lastExit;
    private string? _lastError;
    private long? _startDeadline;
    private LaunchedChromium? _restartStopped;
    private LaunchedChromium? _readyRun;
    private string? _lastOutputLine;

    public LaunchedChromium? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    public long Generation
    {
        get
        {
            lock (_gate)
            {
                return _generation;
            }
        }
    }

    /// <summary>The DevTools URL of the browser last replaced on purpose (see <see cref="IChromiumControl.ReplacedDevToolsUrl"/>).</summary>
    public string? ReplacedUrl
    {
        get
        {
            lock (_gate)
            {
                return _replacedUrl;
            }
        }
    }

    /// <summary>When the current browser's start timeout fires (a timestamp), while its timer exists.</summary>
    public long? StartDeadline
    {
        get
        {
            lock (_gate)
            {
                return _startDeadline;
            }
        }
        set
        {
            lock (_gate)
            {
                _startDeadline = value;
            }
        }
    }

    public void SetState(string state)
    {
        lock (_gate)
        {
            _state = state;
        }
    }

    public void SetLastError(string error)
    {
        lock (_gate)
        {
            _lastError = error;
        }
    }

    /// <summary>Supervision itself failed: nothing will start a browser again, and the status must say so.</summary>
    public void Abandon(string error)
    {
        lock (_gate)
        {
            _state = ChromiumState.Stopped;
            _lastError = error;
        }
    }

    /// <summary>Numbers the next launch; a restart keeps reporting <c>restarting</c> until that browser is ready.</summary>
    public long BeginLaunch()
    {
        lock (_gate)
        {
            var generation = ++_generation;
            if (generation > 1)
            {
                _restarts++;
            }
            if (_state != ChromiumState.Restarting)
            {
                _state = ChromiumState.Starting;
            }
            return generation;
        }
    }

    /// <summary>The started browser becomes current before its first line is read, so no line of it is taken for another's.</summary>
    public void Adopt(LaunchedChromium started)
    {
        lock (_gate)
        {
            _current = started;
            _lastError = null;
            _lastOutputLine = null;
        }
    }

    /// <summary>Keeps the current browser's last line until it is ready: if it never gets there, that line says why.</summary>
    public void KeepOutputLine(LaunchedChromium running, string line)
    {
        lock (_gate)
        {
            if (_current == running && !running.WasReady)
            {
                _lastOutputLine = line;
            }
        }
    }

    /// <summary>The line kept for <paramref name="running"/>; null when a newer browser's lines replaced it.</summary>
    public string? LastOutputLineOf(LaunchedChromium running)
    {
        lock (_gate)
        {
            return _current is null || _current == running ? _lastOutputLine : null;
        }
    }

    /// <summary>
    /// Records the current browser's DevTools URL; false for a browser already being replaced, or a repeated
    /// announcement, neither of which may move the gateway's URL.
    /// </summary>
    public bool TryAnnounce(LaunchedChromium running, string url, long at)
    {
        lock (_gate)
        {
            if (_current != running || running.DevToolsUrl is not null)
            {
                return false;
            }
            running.MarkAnnounced(url, at);
            return true;
        }
    }

    /// <summary>Kept for a waiting restart, which reads its phases from the browser that answered.</summary>
    public void Answered(LaunchedChromium running)
    {
        lock (_gate)
        {
            _readyRun = running;
        }
    }

    /// <summary>
    /// Makes the browser ready, unless it was replaced or ended, or readiness moved on, while it was probed, or it was
    /// ready before. The one place a launched generation turns ready: <paramref name="becameReady"/> runs here, under the
    /// lock its exit is recorded under, so what it publishes comes once per generation and before that generation's exit.
    /// </summary>
    public bool TryMarkReady(LaunchedChromium running, long readyGeneration, Action<LaunchedChromium> becameReady)
    {
        lock (_gate)
        {
            if (_current != running || running.Exited.IsCompleted || running.WasReady || readyGeneration != running.Generation)
            {
                return false;
            }
            running.MarkReady();
            _state = ChromiumState.Ready;
            becameReady(running);
            return true;
        }
    }

    public bool IsCurrent(LaunchedChromium running)
    {
        lock (_gate)
        {
            return _current == running && !running.Exited.IsCompleted;
        }
    }

    /// <summary>
    /// A crashed browser closes its sockets a moment before its exit reaches the loop; /proc already knows (the kernel
    /// marks a process exiting before it closes its descriptors), so the probe that met the closed port leaves the report
    /// to the exit.
    /// </summary>
    public bool CurrentIsExiting()
    {
        var run = Current;
        return run is null || run.Exited.IsCompleted || ProcessTree.ReadStat(run.Pid) is not { Exiting: false };
    }

    /// <summary>From the moment a restart decides to replace the browser, its clients can tell that from a loss.</summary>
    public void Replacing(LaunchedChromium running)
    {
        lock (_gate)
        {
            _replacedUrl = running.DevToolsUrl ?? _replacedUrl;
        }
    }

    public void StoppedForRestart(LaunchedChromium running)
    {
        lock (_gate)
        {
            _restartStopped = running;
        }
    }

    /// <summary>The browser last stopped for a restart and the one last found ready, for the restart's phases.</summary>
    public (LaunchedChromium? Stopped, LaunchedChromium? Ready) RestartRuns()
    {
        lock (_gate)
        {
            return (_restartStopped, _readyRun);
        }
    }

    public void RecordExit(LaunchedChromium running, ChromiumExit exit)
    {
        lock (_gate)
        {
            _lastExit = exit;
            if (_current == running)
            {
                _current = null;
            }
        }
    }

    /// <summary>Counts a death and reports backoff or crash loop in the same step, so no status shows one without the other.</summary>
    public CrashCount RecordCrash(CrashBackoff backoff, bool healthy)
    {
        lock (_gate)
        {
            var count = backoff.RecordCrash(healthy);
            _state = count.CrashLoop ? ChromiumState.CrashLoop : ChromiumState.Backoff;
            return count;
        }
    }

    /// <inheritdoc cref="CrashBackoff.RecordFailedLaunch"/>
    public void RecordFailedLaunch(CrashBackoff backoff)
    {
        lock (_gate)
        {
            _state = backoff.RecordFailedLaunch() ? ChromiumState.CrashLoop : ChromiumState.Backoff;
        }
    }

    /// <summary>
    /// The launch-mode status. A ready browser the watch finds unreachable is reported so, with the watch's error: the
    /// state here only knows what the process did.
    /// </summary>
    public ChromiumStatus Report(TimeProvider time, BrowserReadiness readiness, ReachabilityWatch watch, CrashBackoff backoff,
        IReadOnlyList<string> flags, string? flagsError, IReadOnlyList<string>? commandLine)
    {
        lock (_gate)
        {
            var current = _current;
            var unreachable = _state == ChromiumState.Ready && readiness.IsUnreachable;
            return new ChromiumStatus
            {
                Mode = "launch",
                State = unreachable ? ChromiumState.Unreachable : _state,
                Pid = current?.Pid,
                DevToolsUrl = current?.DevToolsUrl,
                Generation = _generation,
                Restarts = _restarts,
                UptimeMs = current is null ? null : (long)time.GetElapsedTime(current.StartedAt).TotalMilliseconds,
                ConsecutiveCrashes = backoff.ConsecutiveCrashes,
                NextStartInMs = backoff.NextStartAt is { } at ? Math.Max(0, (long)-time.GetElapsedTime(at).TotalMilliseconds) : null,
                LastExit = _lastExit,
                LastError = unreachable ? watch.LastError ?? _lastError : _lastError,
                Flags = flags,
                RuntimeFlagsError = flagsError,
                CommandLine = commandLine,
            };
        }
    }
}
