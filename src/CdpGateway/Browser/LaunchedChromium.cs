using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// One launched Chromium (one generation): the browser process in its own process group, a watchdog that
/// kills the group if the gateway dies, and the readers of its output. The launch chain is
/// <c>/bin/sh -c 'umask 077 &amp;&amp; exec "$0" "$@"' setpriv --pdeathsig KILL -- setsid CHROMIUM ARGS</c>: each
/// execs the next in place (setsid forks only when the caller leads a group, and a child of the gateway does not),
/// so the pid is Chromium's, it leads a new group, it gets SIGKILL if the thread that launched it ends, and
/// everything it and its children create under the data dir is the owner's alone.
/// </summary>
internal sealed class LaunchedChromium
{
    private static readonly string? Setsid = FindOnPath("setsid");
    private static readonly string? Setpriv = FindOnPath("setpriv");
    private static readonly string? Shell = OperatingSystem.IsLinux() && File.Exists("/bin/sh") ? "/bin/sh" : null;

    /// <summary>
    /// Sets the umask that Chromium inherits, then becomes the rest of the chain. A umask rather than fixing
    /// modes afterwards: Chromium writes <c>DevToolsActivePort</c> (the way to its unauthenticated DevTools)
    /// and the profile as it runs, and each would be readable until fixed. The gateway's own umask is not
    /// changed for this: it is per process, and the gateway may share its process with others (tests).
    /// </summary>
    private const string PrivateUmaskScript = "umask 077 && exec \"$0\" \"$@\"";

    /// <summary>How long the output readers may outlive the group (a crashpad handler outside it may hold the pipes).</summary>
    private static readonly TimeSpan OutputDrainLimit = TimeSpan.FromSeconds(1);

    private readonly Process _process;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TaskCompletionSource _announced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ProcessGroupWatchdog? _watchdog;
    private Task _stdout = Task.CompletedTask;
    private Task _stderr = Task.CompletedTask;
    private Task _cleanedUp = Task.CompletedTask;
    private int _reaped;

    private LaunchedChromium(Process process, long generation, long startedAt, TimeProvider time, ILogger logger)
    {
        _process = process;
        _logger = logger;
        _time = time;
        Pid = process.Id;
        Generation = generation;
        StartedAt = startedAt;
        Exited = WaitExitCodeAsync(process);
        // Not read from /proc here: the child may not have reached setsid's setsid() call yet.
        OwnGroup = Setsid is not null;
    }

    public int Pid { get; }

    public long Generation { get; }

    /// <summary><see cref="TimeProvider.GetTimestamp"/> at launch.</summary>
    public long StartedAt { get; }

    /// <summary>True when Chromium leads its own process group (setsid was there), so the group can be signalled.</summary>
    public bool OwnGroup { get; }

    /// <summary>The URL this browser announced, once it has. Set through <see cref="MarkAnnounced"/>.</summary>
    public string? DevToolsUrl { get; private set; }

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when its DevTools line was read.</summary>
    public long? AnnouncedAt { get; private set; }

    /// <summary>Completes when the DevTools line was read.</summary>
    public Task Announced => _announced.Task;

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when <c>Browser.getVersion</c> was first answered.</summary>
    public long? AnsweredAt { get; set; }

    /// <summary>
    /// Its DevTools line to its first answer, once both happened. <c>chromium_ready</c>'s <c>ready_ms</c> and a
    /// restart's <c>devtools_to_ready</c> phase are this one measurement, so the event and the histogram never disagree.
    /// </summary>
    public TimeSpan? AnnouncedToAnswered(TimeProvider time) =>
        AnnouncedAt is { } announced && AnsweredAt is { } answered ? time.GetElapsedTime(announced, answered) : null;

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when the stop began (SIGTERM, or SIGKILL without a grace).</summary>
    public long? StopSentAt { get; private set; }

    /// <summary><see cref="TimeProvider.GetTimestamp"/> when no process of its group was left.</summary>
    public long? GoneAt { get; private set; }

    /// <summary>Completes once the watchdog has exited and the output readers are done (or given up on).</summary>
    public Task CleanedUp => _cleanedUp;

    /// <summary>Set once this browser answered <c>Browser.getVersion</c> (through <see cref="MarkReady"/>).</summary>
    public bool WasReady { get; private set; }

    /// <summary>Completes when this browser first answered <c>Browser.getVersion</c>.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Records that the browser answered (call once, under the owner's lock).</summary>
    public void MarkReady()
    {
        WasReady = true;
        _ready.TrySetResult();
    }

    /// <summary>Records the DevTools line (call once, under the owner's lock).</summary>
    public void MarkAnnounced(string url, long at)
    {
        DevToolsUrl = url;
        AnnouncedAt = at;
        _announced.TrySetResult();
    }

    /// <summary>Completes with .NET's exit code (128+N for death by signal N) when the browser process exits.</summary>
    public Task<int> Exited { get; }

    /// <summary>The program actually started and its arguments, for logs and <c>GET /chromium</c>.</summary>
    public static IReadOnlyList<string> LaunchChain(string executable, IReadOnlyList<string> arguments)
    {
        var chain = new List<string>();
        if (Shell is not null)
        {
            chain.AddRange([Shell, "-c", PrivateUmaskScript]);
        }
        if (Setpriv is not null)
        {
            chain.AddRange([Setpriv, "--pdeathsig", "KILL", "--"]);
        }
        if (Setsid is not null)
        {
            chain.Add(Setsid);
        }
        chain.Add(executable);
        chain.AddRange(arguments);
        return chain;
    }

    /// <summary>Starts Chromium; <paramref name="onLine"/> gets every output line (stdout and stderr).</summary>
    /// <param name="beforeOutput">
    /// Called with the started browser before its output is read, so the caller knows it as its own before the first
    /// line (a fast browser's DevTools line can come before <c>Start</c> returns).
    /// </param>
    public static LaunchedChromium Start(
        ProcessLauncherThread launcher,
        string executable,
        IReadOnlyList<string> arguments,
        long generation,
        TimeProvider time,
        ILogger logger,
        Action<LaunchedChromium, string> onLine,
        IReadOnlyDictionary<string, string>? environment = null,
        Action<LaunchedChromium>? beforeOutput = null)
    {
        var chain = LaunchChain(executable, arguments);
        var info = new ProcessStartInfo(chain[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }
        foreach (var arg in chain.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }
        var startedAt = time.GetTimestamp();
        var process = launcher.Start(info);
        process.StandardInput.Close();
        var running = new LaunchedChromium(process, generation, startedAt, time, logger);
        if (Shell is null)
        {
            logger.LogWarning("/bin/sh is missing: Chromium runs with the gateway's umask, and only the private data directories keep its files from other users");
        }
        if (running.OwnGroup)
        {
            running._watchdog = ProcessGroupWatchdog.Start(running.Pid, i => Process.Start(i)!);
            if (running._watchdog is null)
            {
                logger.LogWarning("Could not start the process-group watchdog; Chromium's children may outlive a killed gateway");
            }
        }
        else
        {
            logger.LogWarning("setsid is missing: Chromium shares the gateway's process group and is stopped through its process tree instead");
        }
        beforeOutput?.Invoke(running);
        running._stdout = running.PumpAsync(process.StandardOutput, onLine);
        running._stderr = running.PumpAsync(process.StandardError, onLine);
        return running;
    }

    /// <summary>
    /// Stops it: SIGTERM to the whole group, SIGKILL to the group after <paramref name="grace"/>, then waits
    /// until no process of the group is left. Returns .NET's exit code of the browser process.
    /// </summary>
    public async Task<int> StopAsync(TimeSpan grace)
    {
        if (!Exited.IsCompleted)
        {
            StopSentAt ??= _time.GetTimestamp();
            Signal(Posix.SIGTERM);
            using var graceTimer = new CancellationTokenSource(grace, _time);
            try
            {
                await Exited.WaitAsync(graceTimer.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("Chromium (pid {Pid}) did not exit within {Grace} ms of SIGTERM; killing its process group",
                    Pid, (long)grace.TotalMilliseconds);
            }
        }
        await ReapAsync().ConfigureAwait(false);
        return await Exited.ConfigureAwait(false);
    }

    /// <summary>
    /// After the browser process ended (or to end it): SIGKILL whatever is left of the group (a renderer or
    /// zygote of a dead browser is of no use), wait for the group to be gone, stand the watchdog down.
    /// Returns once the group is gone and the watchdog has been sent SIGKILL; reaping the watchdog and
    /// draining the output continue in the background (<see cref="CleanedUp"/>), off the restart's path.
    /// </summary>
    public async Task ReapAsync()
    {
        if (Interlocked.Exchange(ref _reaped, 1) != 0)
        {
            await Exited.ConfigureAwait(false);
            return;
        }
        var tree = OwnGroup ? [] : ProcessTree.Descendants(Pid);
        if (!Exited.IsCompleted)
        {
            StopSentAt ??= _time.GetTimestamp();
        }
        Signal(Posix.SIGKILL);
        foreach (var child in tree)
        {
            child.KillIfAlive();
        }
        await Exited.ConfigureAwait(false);
        var exitSeenAt = _time.GetTimestamp();
        var gone = OwnGroup
            ? await ProcessTree.WaitGroupGoneAsync(Pid, TimeSpan.FromSeconds(5)).ConfigureAwait(false)
            : await WaitTreeGoneAsync(tree).ConfigureAwait(false);
        GoneAt = _time.GetTimestamp();
        if (StopSentAt is { } sent)
        {
            _logger.LogDebug("Chromium (pid {Pid}): its exit was seen {Exit} ms after the stop signal, its group was gone {Gone} ms after that",
                Pid, Math.Round(_time.GetElapsedTime(sent, exitSeenAt).TotalMilliseconds, 1),
                Math.Round(_time.GetElapsedTime(exitSeenAt, GoneAt.Value).TotalMilliseconds, 1));
        }
        if (!gone)
        {
            _logger.LogError("Processes of Chromium's group {Pgid} survived SIGKILL", Pid);
        }
        // SIGKILL now, so the watchdog can never fire on this group id once it may be reused; waiting for
        // its exit is not needed for that and happens in the background.
        _watchdog?.StandDown();
        _cleanedUp = CleanUpAsync();
    }

    /// <summary>
    /// Waits, at most <see cref="OutputDrainLimit"/>, until both output pipes are read to their end: the exit can be seen
    /// before the last lines the process wrote, which are the ones that say why it did not start.
    /// </summary>
    public async Task WaitForOutputAsync()
    {
        try
        {
            await Task.WhenAll(_stdout, _stderr).WaitAsync(OutputDrainLimit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private async Task CleanUpAsync()
    {
        var watchdog = _watchdog;
        if (watchdog is not null)
        {
            await watchdog.DisposeAsync().ConfigureAwait(false);
        }
        // Bounded: the output pipes close with the last process holding them. The group is gone, but
        // Chromium's crashpad handler runs in a session of its own and holds them until it notices.
        await WaitForOutputAsync().ConfigureAwait(false);
        // Process.Dispose leaves the redirected streams to the finalizer, and each restart would hold its pipes until a
        // garbage collection. A reader still waiting (a crashpad handler holding the write end) ends with the close.
        _process.StandardOutput.Dispose();
        _process.StandardError.Dispose();
        _process.Dispose();
    }

    private void Signal(int signal)
    {
        // The group exists once setsid ran; a signal sent before that goes to the process itself.
        if (OwnGroup && Posix.KillGroup(Pid, signal))
        {
            return;
        }
        if (!Exited.IsCompleted)
        {
            Posix.Kill(Pid, signal);
        }
    }

    private static async Task<bool> WaitTreeGoneAsync(IReadOnlyList<ProcessEntry> tree)
    {
        await ProcessTree.WaitGoneAsync(tree, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        return !tree.Any(p => p.IsAlive);
    }

    private static async Task<int> WaitExitCodeAsync(Process process)
    {
        await process.WaitForExitAsync().ConfigureAwait(false);
        return process.ExitCode;
    }

    private async Task PumpAsync(StreamReader reader, Action<LaunchedChromium, string> onLine)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                onLine(this, line);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // The pipe went away with the process, or was closed under a reader that outlived it.
        }
    }

    private static string? FindOnPath(string name)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/bin", "/bin"]))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
