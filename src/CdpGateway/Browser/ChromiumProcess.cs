using System.ComponentModel;
using System.Diagnostics;
using CdpGateway.Hosting;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>One Chromium exit: <paramref name="Unexpected"/> is false when the gateway stopped it.</summary>
public sealed record ChromiumExit(int Pid, int ExitCode, TimeSpan Uptime, bool Unexpected);

/// <summary>
/// Launch mode: starts Chromium with <c>--remote-debugging-port=0</c>, learns the DevTools URL from its
/// output, restarts it with backoff when it exits unexpectedly, and stops it with its process tree.
/// </summary>
public sealed class ChromiumProcess : IAsyncDisposable
{
    /// <summary>The quiet-server flags every launch gets.</summary>
    public static readonly IReadOnlyList<string> DefaultFlags =
    [
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--metrics-recording-only",
        "--password-store=basic",
        "--use-mock-keychain",
        "--disable-gpu",
    ];

    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StableUptime = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly GatewayOptions _options;
    private readonly DevToolsUrlTracker _tracker;
    private readonly TimeProvider _time;
    private readonly ILogger<ChromiumProcess> _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _stopGate = new(1, 1);
    private string? _executable;
    private Running? _current;
    private Task? _supervisor;
    private int _restarts;
    private bool _stopped;

    public ChromiumProcess(GatewayOptions options, DevToolsUrlTracker tracker, TimeProvider time, ILogger<ChromiumProcess> logger)
    {
        _options = options;
        _tracker = tracker;
        _time = time;
        _logger = logger;
    }

    /// <summary>Raised after each launch, with the new pid.</summary>
    public event Action<int>? Started;

    /// <summary>Raised after each exit, expected (stop) or not (crash), once its output has been read.</summary>
    public event Action<ChromiumExit>? Exited;

    /// <summary>The pid of the running Chromium, or null between runs.</summary>
    public int? Pid => Volatile.Read(ref _current)?.Pid;

    /// <summary>How many times Chromium was restarted after an unexpected exit.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>Checks the executable, launches Chromium and starts supervising it. Returns once it is launched.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_stopped, this);
        if (_supervisor is not null)
        {
            throw new InvalidOperationException("Chromium is already started.");
        }
        _executable = ResolveExecutable(_options.Chromium);
        var first = Launch();
        _supervisor = Task.Run(() => SuperviseAsync(first, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>The command line after the executable (everything but the executable itself).</summary>
    public IReadOnlyList<string> BuildArguments()
    {
        var args = new List<string>
        {
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            $"--user-data-dir={Path.Combine(Path.GetFullPath(_options.DataDir), "profile")}",
        };
        if (!_options.Headful)
        {
            args.Add("--headless=new");
        }
        args.AddRange(DefaultFlags);
        if (Posix.IsRoot)
        {
            args.Add("--no-sandbox");
        }
        args.AddRange(SplitFlags(_options.ChromiumFlags));
        args.Add("about:blank");
        return args;
    }

    /// <summary>Splits a flags string on whitespace; double quotes group words (and are removed).</summary>
    public static IReadOnlyList<string> SplitFlags(string? flags)
    {
        var words = new List<string>();
        if (string.IsNullOrWhiteSpace(flags))
        {
            return words;
        }
        var word = new System.Text.StringBuilder();
        var inQuotes = false;
        var hasWord = false;
        foreach (var c in flags)
        {
            if (c == '"')
            {
                inQuotes = !inQuotes;
                hasWord = true;
            }
            else if (char.IsWhiteSpace(c) && !inQuotes)
            {
                if (hasWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    hasWord = false;
                }
            }
            else
            {
                word.Append(c);
                hasWord = true;
            }
        }
        if (hasWord)
        {
            words.Add(word.ToString());
        }
        return words;
    }

    /// <summary>Stops restarting, stops Chromium (SIGTERM, then SIGKILL for the whole tree) and waits for it.</summary>
    public async Task StopAsync()
    {
        await _stopGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return;
            }
            _stopped = true;
            await _stop.CancelAsync().ConfigureAwait(false);
            if (_supervisor is not null)
            {
                await _supervisor.ConfigureAwait(false);
            }
        }
        finally
        {
            _stopGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
    }

    private async Task SuperviseAsync(Running? running, CancellationToken ct)
    {
        var backoff = InitialBackoff;
        while (true)
        {
            if (running is not null)
            {
                try
                {
                    await running.Process.WaitForExitAsync(ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    await TerminateAsync(running).ConfigureAwait(false);
                    return;
                }
                await running.DrainOutputAsync().ConfigureAwait(false);
                var uptime = _time.GetElapsedTime(running.StartedAt);
                _logger.LogWarning("Chromium (pid {Pid}) exited unexpectedly with code {ExitCode} after {Uptime} ms",
                    running.Pid, running.Process.ExitCode, (long)uptime.TotalMilliseconds);
                var exitCode = running.Process.ExitCode;
                running.Process.Dispose();
                Volatile.Write(ref _current, null);
                Raise(Exited, new ChromiumExit(running.Pid, exitCode, uptime, Unexpected: true));
                if (uptime >= StableUptime)
                {
                    backoff = InitialBackoff;
                }
            }

            _logger.LogInformation("Restarting Chromium in {Backoff} ms", (long)backoff.TotalMilliseconds);
            try
            {
                await Task.Delay(backoff, _time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            Interlocked.Increment(ref _restarts);
            try
            {
                running = Launch();
            }
            catch (Exception e) when (e is Win32Exception or InvalidOperationException or FileNotFoundException)
            {
                _logger.LogError(e, "Could not restart Chromium");
                running = null;
            }
        }
    }

    private Running Launch()
    {
        var info = new ProcessStartInfo(_executable!)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in BuildArguments())
        {
            info.ArgumentList.Add(arg);
        }
        Directory.CreateDirectory(Path.Combine(Path.GetFullPath(_options.DataDir), "profile"));

        var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            throw new InvalidOperationException($"Chromium could not be started from '{_executable}': {e.Message}", e);
        }
        process.StandardInput.Close();
        var running = new Running(process, _time.GetTimestamp());
        running.StdoutPump = PumpAsync(process.StandardOutput, running.Pid);
        running.StderrPump = PumpAsync(process.StandardError, running.Pid);
        Volatile.Write(ref _current, running);
        _logger.LogInformation("Started Chromium {Executable} (pid {Pid})", _executable, running.Pid);
        _logger.LogDebug("Chromium arguments: {Arguments}", string.Join(' ', info.ArgumentList));
        Raise(Started, running.Pid);
        return running;
    }

    private async Task PumpAsync(StreamReader reader, int pid)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (DevToolsLineParser.TryParse(line, out var url))
                {
                    _logger.LogInformation("Chromium (pid {Pid}): {Line}", pid, line);
                    _tracker.Set(url);
                }
                else
                {
                    _logger.LogDebug("Chromium (pid {Pid}): {Line}", pid, line);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The pipe went away with the process.
        }
    }

    private async Task TerminateAsync(Running running)
    {
        var process = running.Process;
        var descendants = ProcessTree.Descendants(running.Pid);
        if (!process.HasExited)
        {
            _logger.LogInformation("Stopping Chromium (pid {Pid})", running.Pid);
            Posix.Kill(running.Pid, Posix.SIGTERM);
            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("Chromium (pid {Pid}) did not exit within {Timeout} s; killing it", running.Pid, StopTimeout.TotalSeconds);
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // It exited in the meantime.
                }
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        // Children the browser did not take down with it (reparented once it exited) go now.
        foreach (var child in descendants)
        {
            child.KillIfAlive();
        }
        await ProcessTree.WaitGoneAsync(descendants, StopTimeout).ConfigureAwait(false);
        await running.DrainOutputAsync().ConfigureAwait(false);
        var exitCode = process.ExitCode;
        _logger.LogInformation("Chromium (pid {Pid}) stopped with code {ExitCode}", running.Pid, exitCode);
        process.Dispose();
        Volatile.Write(ref _current, null);
        Raise(Exited, new ChromiumExit(running.Pid, exitCode, _time.GetElapsedTime(running.StartedAt), Unexpected: false));
    }

    private void Raise<T>(Action<T>? handler, T value)
    {
        try
        {
            handler?.Invoke(value);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "A Chromium lifecycle handler failed");
        }
    }

    /// <summary>Finds the executable: a path is checked as given, a bare name is looked up in PATH.</summary>
    internal static string ResolveExecutable(string chromium)
    {
        var hint = $"install Debian's chromium package or pass --chromium PATH";
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
        if (OperatingSystem.IsWindows())
        {
            return true;
        }
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (File.GetUnixFileMode(path) & anyExecute) != 0;
    }

    /// <summary>One launched Chromium and the tasks reading its output.</summary>
    private sealed class Running(Process process, long startedAt)
    {
        public Process Process { get; } = process;
        public int Pid { get; } = process.Id;
        public long StartedAt { get; } = startedAt;
        public Task StdoutPump { get; set; } = Task.CompletedTask;
        public Task StderrPump { get; set; } = Task.CompletedTask;

        /// <summary>Waits (bounded: a child may hold the pipes open) for the output readers to finish.</summary>
        public async Task DrainOutputAsync()
        {
            try
            {
                await Task.WhenAll(StdoutPump, StderrPump).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }
    }
}
