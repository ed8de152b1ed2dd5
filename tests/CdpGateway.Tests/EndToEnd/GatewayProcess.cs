using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;
using CdpGateway.Proxy.Epoll;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// End-to-end tests start real processes (the gateway, Chromium, fakes) and measure timings; they run
/// one at a time, after the parallel unit and proxy tests, so a 2-CPU machine does not skew them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEndCollection
{
    public const string Name = "EndToEnd";
}

/// <summary>
/// The gateway as a user runs it: <c>dotnet CdpGateway.dll</c> in its own process, on free ports picked
/// here, with a temp dir holding its data dir and its <c>--events-file</c>. Disposing it kills the gateway
/// and every process whose command line names the temp dir (Chromium, fakes), even when a test failed.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly ITestOutputHelper? _log;
    private readonly List<Process> _extra = [];

    private GatewayProcess(Process process, TestDir dir, int cdpPort, int apiPort, ITestOutputHelper? log)
    {
        _process = process;
        Dir = dir;
        CdpPort = cdpPort;
        ApiPort = apiPort;
        _log = log;
    }

    public TestDir Dir { get; }
    public int CdpPort { get; }
    public int ApiPort { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public string DataDir => Dir.DataDir;
    public string EventsFile => Dir.EventsFile;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string GatewayDll => Path.Combine(AppContext.BaseDirectory, "CdpGateway.dll");

    public static string FakeChromiumDll => Path.Combine(AppContext.BaseDirectory, "FakeChromium.dll");

    /// <summary>Starts the gateway (launch mode with <c>chromium</c> from PATH unless <paramref name="extraArgs"/> say otherwise).</summary>
    public static GatewayProcess Start(ITestOutputHelper? log = null, params string[] extraArgs) => Start(log, _ => extraArgs);

    /// <summary>Starts the gateway with extra arguments that may name files in its temp dir.</summary>
    /// <param name="environment">Variables set for the gateway's process only (after the machine's CDPGW_* are removed).</param>
    /// <param name="workingDirectory">The process's working directory (default: the test run's).</param>
    public static GatewayProcess Start(ITestOutputHelper? log, Func<TestDir, string[]> extraArgs, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var dir = new TestDir();
        try
        {
            var (cdpPort, apiPort) = FreePorts();
            string[] args =
            [
                "--cdp-port", cdpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--api-port", apiPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--data-dir", dir.DataDir,
                "--events-file", dir.EventsFile,
                .. extraArgs(dir),
            ];
            var process = StartDotnet(GatewayDll, args, environment, workingDirectory);
            var gateway = new GatewayProcess(process, dir, cdpPort, apiPort, log);
            process.OutputDataReceived += (_, e) => gateway.Append(e.Data);
            process.ErrorDataReceived += (_, e) => gateway.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return gateway;
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    /// <summary>Runs the gateway to its exit (for command-line errors); kills it if it outlives <paramref name="timeout"/>.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExitAsync(TimeSpan timeout, params string[] args)
    {
        using var process = StartDotnet(GatewayDll, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"dotnet CdpGateway.dll {string.Join(' ', args)} was still running after {timeout.TotalSeconds} s:\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private static Process StartDotnet(string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory ?? "",
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        // The machine's own CDPGW_* settings must not leak into what a test asserts. The relay switch is the exception:
        // ./test's second pass sets it on purpose, for the gateways it starts as much as for the in-process ones.
        foreach (var key in info.Environment.Keys
            .Where(k => k.StartsWith("CDPGW_", StringComparison.Ordinal) && k != EpollRelay.SwitchVariable).ToList())
        {
            info.Environment.Remove(key);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }

    /// <summary>Two distinct free loopback ports (bound, read, released).</summary>
    public static (int, int) FreePorts()
    {
        var a = new TcpListener(IPAddress.Loopback, 0);
        var b = new TcpListener(IPAddress.Loopback, 0);
        a.Start();
        b.Start();
        try
        {
            return (((IPEndPoint)a.LocalEndpoint).Port, ((IPEndPoint)b.LocalEndpoint).Port);
        }
        finally
        {
            a.Stop();
            b.Stop();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    public Uri CdpHttp(string path = "") => new($"http://127.0.0.1:{CdpPort}{path}");

    public Uri CdpWs(string path = "/devtools/browser/any") => new($"ws://127.0.0.1:{CdpPort}{path}");

    public Uri ApiHttp(string path) => new($"http://127.0.0.1:{ApiPort}{path}");

    /// <summary>GET /health on the API port: the status code and, when ready, the DevTools URL.</summary>
    /// <summary>The --token the gateway was started with, for this class's own requests.</summary>
    public string? Token { get; set; }

    public async Task<(HttpStatusCode Status, string? DevToolsUrl)> HealthAsync()
    {
        using var response = await Http.GetAsync(ApiHttp(Token is null ? "/health" : "/health?token=" + Uri.EscapeDataString(Token)));
        string? url = null;
        if (response.IsSuccessStatusCode)
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            url = doc.RootElement.TryGetProperty("devtools_url", out var u) ? u.GetString() : null;
        }
        return (response.StatusCode, url);
    }

    /// <summary>Waits for the API port to answer /health at all; returns that first status.</summary>
    public async Task<HttpStatusCode> WaitForApiAsync()
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the gateway exited with code {_process.ExitCode}:\n{Output}");
            }
            try
            {
                return (await HealthAsync()).Status;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Waits for /health to answer 200 (and, if given, with a DevTools URL other than <paramref name="notUrl"/>); returns the URL.</summary>
    public async Task<string> WaitHealthyAsync(string? notUrl = null, TimeSpan? patience = null)
    {
        var last = "no answer";
        string? healthy = null;
        await Eventually.TrueAsync(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the gateway exited with code {_process.ExitCode} before /health was 200:\n{Output}");
            }
            try
            {
                var (status, url) = await HealthAsync();
                last = $"{(int)status} {url}";
                if (status == HttpStatusCode.OK && !string.IsNullOrEmpty(url) && url != notUrl)
                {
                    healthy = url;
                }
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            return healthy is not null;
        }, () => $"/health answering 200{(notUrl is null ? "" : " with a new DevTools URL")} (last: {last}):\n{Output}", patience ?? Patience);
        return healthy!;
    }

    public async Task<JsonElement> GetJsonAsync(Uri uri)
    {
        using var response = await Http.GetAsync(uri);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {uri} answered {(int)response.StatusCode}: {body}");
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    /// <summary>The gateway-side URL of the first real page target in /json/list.</summary>
    public async Task<Uri> FirstPageUrlAsync()
    {
        var list = await GetJsonAsync(CdpHttp("/json/list"));
        var page = list.EnumerateArray().First(t => t.GetProperty("type").GetString() == "page");
        return new Uri(page.GetProperty("webSocketDebuggerUrl").GetString()!);
    }

    // ---- the events file ----

    /// <summary>Every complete line of the events file, parsed (a line still being written is left out).</summary>
    public IReadOnlyList<JsonElement> ReadEvents() => ReadEventsFile(EventsFile, strict: false);

    /// <summary>Parses a JSON-lines events file; <paramref name="strict"/> demands that every line (the last included) is complete JSON.</summary>
    public static IReadOnlyList<JsonElement> ReadEventsFile(string path, bool strict)
    {
        if (!File.Exists(path))
        {
            return [];
        }
        string text;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream, Encoding.UTF8))
        {
            text = reader.ReadToEnd();
        }
        var lines = text.Split('\n');
        if (strict)
        {
            Assert.True(text.Length == 0 || text.EndsWith('\n'), $"the events file ends in a partial line: {lines[^1]}");
        }
        var events = new List<JsonElement>();
        // The part after the last newline is either empty or a line not yet finished.
        for (var i = 0; i < lines.Length - 1; i++)
        {
            try
            {
                using var doc = JsonDocument.Parse(lines[i]);
                events.Add(doc.RootElement.Clone());
            }
            catch (JsonException e)
            {
                throw new Xunit.Sdk.XunitException($"line {i + 1} of the events file is not valid JSON ({e.Message}): {lines[i]}");
            }
        }
        return events;
    }

    public IReadOnlyList<JsonElement> EventsOfType(string type) =>
        ReadEvents().Where(e => TypeOf(e) == type).ToList();

    public static string? TypeOf(JsonElement envelope) => envelope.GetProperty("event").GetProperty("type").GetString();

    public static JsonElement DataOf(JsonElement envelope) => envelope.GetProperty("event").GetProperty("data");

    public static string ConnectionIdOf(JsonElement envelope) => DataOf(envelope).GetProperty("connection_id").GetString()!;

    /// <summary>Polls the events file until <paramref name="count"/> events of <paramref name="type"/> matching <paramref name="match"/> are there.</summary>
    public async Task<IReadOnlyList<JsonElement>> WaitForEventsAsync(string type, int count = 1, Func<JsonElement, bool>? match = null, TimeSpan? patience = null)
    {
        List<JsonElement> found = [];
        await Eventually.TrueAsync(() => (found = EventsOfType(type).Where(e => match?.Invoke(e) ?? true).ToList()).Count >= count,
            () => $"the events file holding {count} {type} event(s); it has:\n{string.Join('\n', ReadEvents().Select(e => e.GetRawText()))}\ngateway output:\n{Output}",
            patience ?? Patience);
        return found;
    }

    /// <summary>The <c>cdp_disconnect</c> data of one connection, once it is in the file.</summary>
    public async Task<JsonElement> WaitForDisconnectAsync(string connectionId, TimeSpan? patience = null)
    {
        var found = await WaitForEventsAsync("cdp_disconnect", 1, e => ConnectionIdOf(e) == connectionId, patience);
        return DataOf(found[0]);
    }

    /// <summary>
    /// The connection ended because its browser went away: reason <c>upstream_changed</c>, the close code the client
    /// saw, and a duration that ends when the old browser went (within the time the client saw it live), not when the
    /// new one announced itself.
    /// </summary>
    public async Task AssertEndedByBrowserChangeAsync(string connectionId, int? closeCodeSeen, TimeSpan clientSawItLive)
    {
        var disconnect = await WaitForDisconnectAsync(connectionId);
        Assert.Equal("upstream_changed", disconnect.GetProperty("reason").GetString());
        Assert.Equal(closeCodeSeen, disconnect.GetProperty("close_code").GetInt32());
        var duration = disconnect.GetProperty("duration_ms").GetDouble();
        Assert.True(duration <= clientSawItLive.TotalMilliseconds + 50,
            $"duration_ms {duration} but the client saw the connection live {clientSawItLive.TotalMilliseconds:F0} ms");
    }

    // ---- processes ----

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int KillNative(int pid, int signal);

    public static void Signal(int pid, int signal)
    {
        if (KillNative(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Signal(int signal) => Signal(_process.Id, signal);

    /// <summary>Waits for the gateway to exit and returns its exit code; throws if it is still running after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the gateway (pid {_process.Id}) was still running {timeout.TotalSeconds} s later:\n{Output}");
        }
        return _process.ExitCode;
    }

    /// <summary>Every live process (other than this one) with an argument containing <paramref name="text"/>.</summary>
    public static IReadOnlyList<(int Pid, string[] Args)> ProcessesMentioning(string text)
    {
        var found = new List<(int, string[])>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                var args = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(entry, "cmdline"))).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                if (args.Any(a => a.Contains(text, StringComparison.Ordinal)))
                {
                    found.Add((pid, args));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process went away while we looked.
            }
        }
        return found;
    }

    /// <summary>Pids and the start of their command lines, for failure messages.</summary>
    public static string Describe(IEnumerable<(int Pid, string[] Args)> processes) =>
        string.Join("; ", processes.Select(p =>
        {
            var line = string.Join(' ', p.Args);
            return $"{p.Pid} {(line.Length > 100 ? line[..100] + "..." : line)}";
        }));

    /// <summary>The pid of the Chromium browser process (not a --type= child) running on this gateway's data dir.</summary>
    public int ChromiumBrowserPid()
    {
        var candidates = ProcessesMentioning("--user-data-dir=" + DataDir)
            // Chromium's children rewrite their command line into one space-separated string.
            .Where(p => !string.Join(' ', p.Args).Contains(" --type=", StringComparison.Ordinal))
            .ToList();
        // A child caught between its fork and its exec still carries the browser's command line: the
        // browser is the one whose parent is none of them.
        var pids = candidates.Select(p => p.Pid).ToHashSet();
        var browsers = candidates.Where(p => !pids.Contains(ParentPidOf(p.Pid))).ToList();
        Assert.True(browsers.Count == 1, $"expected one Chromium browser process on {DataDir}, found: {Describe(browsers)}");
        return browsers[0].Pid;
    }

    private static int ParentPidOf(int pid)
    {
        try
        {
            // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1; // gone
        }
    }

    /// <summary>Starts FakeChromium (through a /bin/sh wrapper that execs it) with its stderr appended to <paramref name="logFile"/>.</summary>
    public Process StartFakeChromium(string logFile)
    {
        var script = Path.Combine(Dir.Path, $"fake-chromium-{Guid.NewGuid():N}.sh");
        File.WriteAllText(script, $"#!/bin/sh\nexec dotnet \"{FakeChromiumDll}\" \"$@\" >/dev/null 2>>\"{logFile}\"\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var info = new ProcessStartInfo(script) { UseShellExecute = false };
        // Names the temp dir on its command line, so the cleanup sweep finds it whatever happens.
        info.ArgumentList.Add("--e2e-dir=" + Dir.Path);
        var process = Process.Start(info) ?? throw new InvalidOperationException("the fake did not start");
        lock (_extra)
        {
            _extra.Add(process);
        }
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
        lock (_extra)
        {
            foreach (var extra in _extra)
            {
                try
                {
                    extra.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
        await KillEverythingMentioningAsync(Dir.Path);
        _log?.WriteLine($"gateway output (pid {_process.Id}):\n{Output}");
        _process.Dispose();
        lock (_extra)
        {
            _extra.ForEach(p => p.Dispose());
        }
        Dir.Dispose();
    }

    /// <summary>SIGKILLs every process naming <paramref name="text"/> and waits (bounded) until they are gone.</summary>
    public static async Task KillEverythingMentioningAsync(string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (ProcessesMentioning(text) is { Count: > 0 } left && DateTime.UtcNow < deadline)
        {
            foreach (var (pid, _) in left)
            {
                KillNative(pid, SIGKILL);
            }
            await Task.Delay(50);
        }
    }
}

/// <summary>A temp dir for one test: <c>data/</c> for the gateway's data dir and <c>events.jsonl</c>.</summary>
public sealed class TestDir : IDisposable
{
    public TestDir()
    {
        Path = Directory.CreateTempSubdirectory("cdpgw-e2e-").FullName;
    }

    public string Path { get; }
    public string DataDir => System.IO.Path.Combine(Path, "data");
    public string EventsFile => System.IO.Path.Combine(Path, "events.jsonl");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A profile file may still be flushing; a temp dir is not worth failing a test for.
        }
    }
}
