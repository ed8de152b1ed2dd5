using System.Text;
using System.Text.Json;
using CdpGateway.Browser;
using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CdpGateway.Tests.Browser;

/// <summary>
/// Stand-ins for the chromium executable (shell scripts around tests/FakeChromium, or plain shell), a
/// supervisor built on them with its event stream, and /proc checks. Owns a temp dir it deletes.
/// </summary>
public sealed class FakeBrowsers : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly List<IAsyncDisposable> _owned = [];

    public string Dir { get; } = Directory.CreateTempSubdirectory("cdpgw-browser-").FullName;

    public string DataDir => Path.Combine(Dir, "data");

    public static CancellationToken Timeout() => new CancellationTokenSource(Patience).Token;

    /// <summary>An executable shell script in the temp dir.</summary>
    public string Script(string body)
    {
        var path = Path.Combine(Dir, $"chromium-{Guid.NewGuid():N}.sh");
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>tests/FakeChromium behind a script, with optional environment lines (<c>export X=1\n</c>).</summary>
    public string FakeChromium(string env = "") =>
        Script($"{env}exec dotnet \"{Path.Combine(AppContext.BaseDirectory, "FakeChromium.dll")}\" \"$@\"");

    public GatewayOptions Options(string executable, string flags = "") => new()
    {
        Chromium = executable,
        ChromiumFlags = flags,
        DataDir = DataDir,
    };

    /// <param name="probeInterval">
    /// The reachability rounds; on a test's own clock none unless given, since such tests jump the clock by minutes and a
    /// round's probe would time out inside the jump.
    /// </param>
    public (ChromiumSupervisor Supervisor, EventStream Events, DevToolsUrlTracker Tracker) Supervisor(
        string executable, TimeProvider? time = null, string flags = "", ILogger<ChromiumSupervisor>? logger = null,
        TimeSpan? probeInterval = null)
    {
        probeInterval ??= time is null ? null : System.Threading.Timeout.InfiniteTimeSpan;
        time ??= TimeProvider.System;
        var events = new EventStream(time, new TelemetryConfig());
        var tracker = new DevToolsUrlTracker();
        var supervisor = new ChromiumSupervisor(Options(executable, flags), tracker, events, time, logger ?? NullLogger<ChromiumSupervisor>.Instance,
            probeInterval);
        _owned.Add(supervisor);
        return (supervisor, events, tracker);
    }

    /// <summary>Waits for the n-th event of <paramref name="type"/> and returns its data.</summary>
    public static async Task<JsonElement> WaitForEventAsync(EventStream events, string type, int count = 1)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var reader = events.CreateReader(0);
        var seen = 0;
        while (true)
        {
            var batch = await reader.ReadAsync(cancellationToken: timeout.Token);
            foreach (var envelope in batch.Events)
            {
                if (envelope.Type == type && ++seen == count)
                {
                    return JsonDocument.Parse(envelope.Utf8Json).RootElement.GetProperty("event").GetProperty("data").Clone();
                }
            }
        }
    }

    public static IReadOnlyList<JsonElement> EventsOfType(EventStream events, string type) =>
        events.Snapshot(0, 8192, null)
            .Where(e => e.Type == type)
            .Select(e => JsonDocument.Parse(e.Utf8Json).RootElement.GetProperty("event").GetProperty("data").Clone())
            .ToList();

    /// <summary>Live (non-zombie) processes whose command line holds an argument containing <paramref name="fragment"/>.</summary>
    public static List<int> ProcessesWith(string fragment)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"), Encoding.UTF8);
                var state = File.ReadAllText(Path.Combine(dir, "stat"));
                if (cmdline.Split('\0').Any(a => a.Contains(fragment, StringComparison.Ordinal)) && state[(state.LastIndexOf(')') + 2)..][0] != 'Z')
                {
                    pids.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process went away while we looked.
            }
        }
        return pids;
    }

    /// <summary>Process group id of <paramref name="pid"/> from /proc.</summary>
    public static int ProcessGroupOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static string[] CommandLineOf(int pid) =>
        File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A browser profile may still be flushing; a temp dir is not worth failing a test for.
        }
    }
}
