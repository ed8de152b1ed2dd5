using System.Text;
using CdpGateway.Browser;
using CdpGateway.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace CdpGateway.Tests.Browser;

public sealed class ChromiumProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cdpgw-chromium-").FullName;
    private readonly DevToolsUrlTracker _tracker = new();

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A browser profile may still be flushing; the temp dir is not worth failing a test for.
        }
    }

    private static CancellationToken Timeout(int seconds = 30) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    /// <summary>An executable shell script (a stand-in for the chromium binary) in the test's temp dir.</summary>
    private string Script(string body)
    {
        var path = Path.Combine(_dir, $"chromium-{Guid.NewGuid():N}.sh");
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private string FakeChromium(string env = "") =>
        Script($"{env}exec dotnet \"{Path.Combine(AppContext.BaseDirectory, "FakeChromium.dll")}\" \"$@\"");

    private ChromiumProcess Create(string executable, string flags = "", bool headful = false) =>
        new(new GatewayOptions
        {
            Chromium = executable,
            ChromiumFlags = flags,
            Headful = headful,
            DataDir = Path.Combine(_dir, "data"),
        }, _tracker, TimeProvider.System, NullLogger<ChromiumProcess>.Instance);

    private static string[] CommandLine(int pid) =>
        File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Arguments_hold_the_launch_flags_then_the_user_flags_then_about_blank()
    {
        var args = Create("/bin/true", "--lang=de  \"--window-size=800,600\" --x=\"a b\"").BuildArguments();
        Assert.Equal("--remote-debugging-port=0", args[0]);
        Assert.Contains("--remote-debugging-address=127.0.0.1", args);
        Assert.Contains($"--user-data-dir={Path.Combine(_dir, "data", "profile")}", args);
        Assert.Contains("--headless=new", args);
        Assert.All(ChromiumProcess.DefaultFlags, f => Assert.Contains(f, args));
        Assert.Equal(Environment.UserName == "root", args.Contains("--no-sandbox"));
        Assert.Equal(["--lang=de", "--window-size=800,600", "--x=a b", "about:blank"], args.Skip(args.Count - 4));

        Assert.DoesNotContain("--headless=new", Create("/bin/true", headful: true).BuildArguments());
    }

    [Theory]
    [InlineData("", new string[0])]
    [InlineData("  --a   --b=1 ", new[] { "--a", "--b=1" })]
    [InlineData("--a=\"x y\" \"--c d\" \"\"", new[] { "--a=x y", "--c d", "" })]
    public void Splits_flags_on_whitespace_respecting_double_quotes(string flags, string[] expected) =>
        Assert.Equal(expected, ChromiumProcess.SplitFlags(flags));

    [Fact]
    public async Task A_missing_or_non_executable_chromium_is_named_in_the_error()
    {
        var missing = Path.Combine(_dir, "no-such-chromium");
        await using var process = Create(missing);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => process.StartAsync(Timeout()));
        Assert.Contains(missing, error.Message);
        Assert.Contains("--chromium PATH", error.Message);

        var notExecutable = Path.Combine(_dir, "plain-file");
        File.WriteAllText(notExecutable, "");
        await using var second = Create(notExecutable);
        error = await Assert.ThrowsAnyAsync<Exception>(() => second.StartAsync(Timeout()));
        Assert.Contains(notExecutable, error.Message);

        await using var third = Create("definitely-not-a-chromium-on-path");
        error = await Assert.ThrowsAnyAsync<Exception>(() => third.StartAsync(Timeout()));
        Assert.Contains("definitely-not-a-chromium-on-path", error.Message);
    }

    [Fact]
    public async Task Launches_the_fake_learns_its_url_restarts_it_after_a_crash_and_stops_it()
    {
        var process = Create(FakeChromium(), "--some-user-flag");
        using var sub = _tracker.Subscribe();
        var exits = new List<ChromiumExit>();
        var exited = new TaskCompletionSource<ChromiumExit>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += e =>
        {
            lock (exits)
            {
                exits.Add(e);
            }
            exited.TrySetResult(e);
        };
        try
        {
            await process.StartAsync(Timeout());
            var first = await sub.NextAsync(Timeout());
            Assert.StartsWith("ws://127.0.0.1:", first);
            Assert.Contains("/devtools/browser/", first);

            var pid = process.Pid!.Value;
            var cmdline = CommandLine(pid);
            Assert.Contains("--remote-debugging-port=0", cmdline);
            Assert.Contains("--some-user-flag", cmdline);
            Assert.Equal("about:blank", cmdline[^1]);

            using (var http = new HttpClient())
            {
                var version = await http.GetStringAsync(new Uri(first!.Replace("ws://", "http://").Split("/devtools")[0] + "/json/version"), Timeout());
                Assert.Contains(first, version);
            }

            // A crash: the gateway restarts it after a backoff, and the new browser announces a new URL.
            Posix.Kill(pid, Posix.SIGKILL);
            var crash = await exited.Task.WaitAsync(Timeout());
            Assert.True(crash.Unexpected);
            Assert.Equal(pid, crash.Pid);
            var second = await sub.NextAsync(Timeout());
            Assert.NotEqual(first, second);
            Assert.Equal(1, process.Restarts);
            Assert.NotEqual(pid, process.Pid);

            var secondPid = process.Pid!.Value;
            exited = new TaskCompletionSource<ChromiumExit>(TaskCreationOptions.RunContinuationsAsynchronously);
            await process.DisposeAsync().AsTask().WaitAsync(Timeout());
            var stop = await exited.Task.WaitAsync(Timeout());
            Assert.False(stop.Unexpected);
            Assert.Equal(0, stop.ExitCode); // the fake exits 0 on SIGTERM: it was asked, not killed
            Assert.Null(process.Pid);
            Assert.False(File.Exists($"/proc/{secondPid}/cmdline") && CommandLine(secondPid).Length > 0);
            Assert.Equal(1, process.Restarts);
        }
        finally
        {
            await process.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_browser_that_cannot_start_is_restarted_with_backoff()
    {
        await using var process = Create(FakeChromium("export FAKE_CHROMIUM_EXIT_CODE=3\n"));
        var codes = new List<int>();
        var thirdExit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += e =>
        {
            lock (codes)
            {
                codes.Add(e.ExitCode);
                if (codes.Count == 3)
                {
                    thirdExit.TrySetResult();
                }
            }
        };
        await process.StartAsync(Timeout());
        await thirdExit.Task.WaitAsync(Timeout());
        Assert.True(process.Restarts >= 2);
        await process.DisposeAsync();
        lock (codes)
        {
            Assert.All(codes, c => Assert.Equal(3, c));
        }
        Assert.Equal("", _tracker.Current);
    }

    [Fact]
    public async Task Real_chromium_announces_a_browser_url_and_leaves_no_process_behind()
    {
        const string chromium = "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            return; // nothing to test on a machine without Debian's chromium
        }
        var process = Create(chromium);
        var profile = $"--user-data-dir={Path.Combine(_dir, "data", "profile")}";
        using var sub = _tracker.Subscribe();
        try
        {
            await process.StartAsync(Timeout(60));
            var url = await sub.NextAsync(Timeout(60));
            Assert.Matches(@"^ws://127\.0\.0\.1:\d+/devtools/browser/[0-9a-f-]+$", url);
            Assert.NotEmpty(ChromiumProcessesWith(profile));
        }
        finally
        {
            await process.DisposeAsync();
        }
        Assert.Empty(ChromiumProcessesWith(profile));
        Assert.Equal(0, process.Restarts);
    }

    /// <summary>Live (non-zombie) processes whose command line carries <paramref name="argument"/>.</summary>
    private static List<int> ChromiumProcessesWith(string argument)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"), Encoding.UTF8);
                if (cmdline.Split('\0').Contains(argument))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
                // The process went away while we looked.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return pids;
    }
}
