using System.Globalization;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>What an operator sees when the command line is wrong, or asks for help: the real process's exit code and text.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class CommandLineProcessTests
{
    private static readonly TimeSpan ExitPatience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task AnUnknownOptionExitsNonZeroWithUsageNamingIt()
    {
        var (code, stdout, stderr) = await RunToExitAsync(ExitPatience, "--no-such-option");

        Assert.NotEqual(0, code);
        var text = stdout + stderr;
        Assert.Contains("--no-such-option", stderr, StringComparison.Ordinal);
        Assert.Contains("Usage", text, StringComparison.Ordinal);
        Assert.Contains("--cdp-port", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--bind", "--bind", "0.0.0.0")]
    [InlineData("--bind", "--bind", "nonsense")]
    [InlineData("--log-level", "--log-level", "verbose")]
    [InlineData("--log-format", "--log-format", "xml")]
    [InlineData("--otlp-endpoint", "--otlp-endpoint", "ftp://collector:4318")]
    [InlineData("--token", "--bind", "0.0.0.0", "--token", "short")]
    [InlineData("'--no-such-option'", "--no-such-option", "--cdp-port", "x")]
    [InlineData("'stray'", "stray")]
    [InlineData("--token", "--token")]
    [InlineData("--cdp-port", "--cdp-port", "0x10")]
    public async Task ABadValueExits2WithUsageAndOneLineNamingIt(string named, params string[] args)
    {
        var (code, stdout, stderr) = await RunToExitAsync(ExitPatience, args);

        Assert.Equal(2, code);
        var problem = Assert.Single(stderr.Split('\n'), l => l.StartsWith("cdp-gateway: ", StringComparison.Ordinal));
        Assert.Contains(named, problem, StringComparison.Ordinal);
        Assert.Contains("Usage", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABadVariableExits2WithUsageAndOneLineNamingTheVariable()
    {
        var (code, stdout, stderr) = await RunToExitWithAsync(new() { ["CDPGW_LOG_LEVEL"] = "verbose", ["CDPGW_NO_SUCH_OPTION"] = "1" });

        Assert.Equal(2, code);
        var problem = Assert.Single(stderr.Split('\n'), l => l.StartsWith("cdp-gateway: ", StringComparison.Ordinal));
        Assert.Contains("CDPGW_LOG_LEVEL (--log-level): 'verbose'", problem, StringComparison.Ordinal);
        Assert.Contains("Usage", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OnlyVariablesSpelledAsDocumentedCount()
    {
        var (code, _, stderr) = await RunToExitWithAsync(
            new() { ["cdpgw_log_level"] = "verbose", ["CDPGW_log_level"] = "verbose", ["CDPGW_ALLOW_RUNTIME_FLAG__0"] = "--gpu-launcher=/bin/sh" },
            "--cdp-port", "9300", "--api-port", "9300");

        Assert.Equal(2, code);
        var problem = Assert.Single(stderr.Split('\n'), l => l.StartsWith("cdp-gateway: ", StringComparison.Ordinal));
        Assert.Contains("--cdp-port and --api-port are both 9300", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ArgumentsWinOverVariablesAndARepeatedOptionOverAListedVariable()
    {
        // The variables' bad bind and bad flag never count: the arguments replace them, so the problem left is the ports.
        var (code, _, stderr) = await RunToExitWithAsync(
            new() { ["CDPGW_BIND"] = "nonsense", ["CDPGW_ALLOW_RUNTIME_FLAG"] = "--gpu-launcher=/bin/sh", ["CDPGW_CDP_PORT"] = "9300" },
            "--bind", "127.0.0.1", "--allow-runtime-flag", "log-file", "--api-port=9300");

        Assert.Equal(2, code);
        var problem = Assert.Single(stderr.Split('\n'), l => l.StartsWith("cdp-gateway: ", StringComparison.Ordinal));
        Assert.Contains("--cdp-port and --api-port are both 9300", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingChromiumExecutableExitsNonZeroNamingThePath()
    {
        using var dir = new TestDir();
        var (cdp, api) = FreePorts();
        var (code, stdout, stderr) = await RunToExitAsync(ExitPatience,
            "--chromium", "/nonexistent/chrome",
            "--cdp-port", cdp.ToString(CultureInfo.InvariantCulture),
            "--api-port", api.ToString(CultureInfo.InvariantCulture),
            "--data-dir", dir.DataDir,
            "--events-file", dir.EventsFile);

        Assert.NotEqual(0, code);
        Assert.Contains("/nonexistent/chrome", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HelpExits0AndListsTheOptions()
    {
        var (code, stdout, _) = await RunToExitAsync(ExitPatience, "--help");

        Assert.Equal(0, code);
        foreach (var option in new[] { "--bind", "--cdp-port", "--api-port", "--chromium", "--chromium-flags", "--chromium-log", "--data-dir", "--events-file", "--max-message-bytes", "--token" })
        {
            Assert.Contains(option + " ", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task VersionExits0WithTheVersionAndTheCommitTheGatewayWasBuiltFrom()
    {
        var (code, stdout, stderr) = await RunToExitAsync(ExitPatience, "--version");

        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        var match = System.Text.RegularExpressions.Regex.Match(stdout, @"^cdp-gateway 0\.1\.0 \(commit (?<commit>[0-9a-f]{4,40}|unknown)\)\n$");
        Assert.True(match.Success, $"--version printed: {stdout}");
        if (HeadCommit() is { } head)
        {
            // The tests run what was just built from this checkout.
            Assert.StartsWith(match.Groups["commit"].Value, head, StringComparison.Ordinal);
        }
    }

    /// <summary>Runs the gateway to its exit with <paramref name="environment"/> as its only CDPGW_* variables (the relay switch aside).</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExitWithAsync(Dictionary<string, string> environment, params string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        info.ArgumentList.Add(GatewayDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("CDPGW_", StringComparison.OrdinalIgnoreCase) && k != CdpGateway.Proxy.Epoll.EpollRelay.SwitchVariable).ToList())
        {
            info.Environment.Remove(key);
        }
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(ExitPatience);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"the gateway was still running after {ExitPatience.TotalSeconds} s:\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The checkout's HEAD, or null without git or outside a checkout (then the gateway says "unknown").</summary>
    private static string? HeadCommit()
    {
        try
        {
            using var git = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("git", "rev-parse HEAD")
            {
                WorkingDirectory = AppContext.BaseDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var output = git.StandardOutput.ReadToEnd().Trim();
            git.StandardError.ReadToEnd();
            git.WaitForExit();
            return git.ExitCode == 0 && output.Length == 40 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}

