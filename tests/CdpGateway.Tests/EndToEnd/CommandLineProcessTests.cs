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
    [InlineData("--token", "--bind", "0.0.0.0", "--token", "short")]
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

