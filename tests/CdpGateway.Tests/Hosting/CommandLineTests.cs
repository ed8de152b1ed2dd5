using CdpGateway.Hosting;

namespace CdpGateway.Tests.Hosting;

public sealed class CommandLineTests
{
    [Fact]
    public void ArgumentsOverrideEnvironmentOverrideDefaults()
    {
        var env = new Dictionary<string, string> { ["CDPGW_CDP_PORT"] = "9300", ["CDPGW_API_PORT"] = "9301", ["CDPGW_LOG_CDP_MESSAGES"] = "true" };

        var options = CommandLine.Parse(["--cdp-port", "9400", "--restart-confirm-wait=250ms", "--headful"], k => env.GetValueOrDefault(k));

        Assert.Equal(9400, options.CdpPort);
        Assert.Equal(9301, options.ApiPort);
        Assert.True(options.LogCdpMessages);
        Assert.True(options.Headful);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.RestartConfirmWait);
        Assert.Equal("127.0.0.1", options.Bind);
        Assert.Equal(100L * 1024 * 1024, options.MaxMessageBytes);
    }

    [Fact]
    public void WithoutAQueueUpgradesBeyondTheLimitAreRefusedAndAQueueWaitsThirtySecondsUnlessTold()
    {
        var defaults = CommandLine.Parse([], _ => null);
        Assert.Equal(0, defaults.Queue);
        Assert.Equal(TimeSpan.FromSeconds(30), defaults.QueueTimeout);

        var queued = CommandLine.Parse(["--queue", "50", "--queue-timeout=2m"], k => k == "CDPGW_QUEUE" ? "7" : null);

        Assert.Equal(50, queued.Queue);
        Assert.Equal(TimeSpan.FromMinutes(2), queued.QueueTimeout);
        Assert.Equal(7, CommandLine.Parse([], k => k == "CDPGW_QUEUE" ? "7" : null).Queue);
    }

    [Fact]
    public void IdleTimeoutIsOffByDefaultAndAtZeroAndTakesADurationFromAnArgumentOrTheEnvironment()
    {
        Assert.Null(CommandLine.Parse([], _ => null).IdleTimeout);
        Assert.Null(CommandLine.Parse(["--idle-timeout", "0"], _ => null).IdleTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), CommandLine.Parse(["--idle-timeout=2m"], _ => null).IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(90), CommandLine.Parse([], k => k == "CDPGW_IDLE_TIMEOUT" ? "90s" : null).IdleTimeout);
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse(["--idle-timeout", "later"], _ => null));
        Assert.Contains("--idle-timeout", error.Message);
        Assert.Contains("--idle-timeout", CommandLine.Usage());
    }

    [Theory]
    [InlineData(new[] { "--no-such-option" }, "--no-such-option")]
    [InlineData(new[] { "--cdp-port", "http" }, "--cdp-port")]
    [InlineData(new[] { "--cdp-port" }, "--cdp-port")]
    [InlineData(new[] { "--restart-confirm-wait", "soon" }, "--restart-confirm-wait")]
    [InlineData(new[] { "--max-message-bytes", "-5" }, "--max-message-bytes")]
    [InlineData(new[] { "--queue", "-1" }, "--queue")]
    [InlineData(new[] { "--queue-timeout", "later" }, "--queue-timeout")]
    [InlineData(new[] { "stray" }, "stray")]
    [InlineData(new[] { "--bind", "nonsense" }, "--bind")]
    [InlineData(new[] { "--bind", "0.0.0.0" }, "--token")]
    [InlineData(new[] { "--bind", "0.0.0.0", "--token", "short" }, "--token")]
    [InlineData(new[] { "--bind", "0.0.0.0", "--token", "0123456789abcdef", "--api-token", "short" }, "--api-token")]
    [InlineData(new[] { "--log-level", "verbose" }, "--log-level")]
    [InlineData(new[] { "--events-file-mode", "0755" }, "--events-file-mode")]
    [InlineData(new[] { "--events-file-mode", "rw" }, "--events-file-mode")]
    [InlineData(new[] { "--allow-runtime-flag", "--gpu-launcher=/bin/sh" }, "--allow-runtime-flag")]
    [InlineData(new[] { "--cdp-port", "9300", "--api-port", "9300" }, "--api-port")]
    public void BadInputIsAnErrorNamingTheOption(string[] args, string named)
    {
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse(args, _ => null));
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void BadEnvironmentValuesAreErrorsNamingTheOption()
    {
        var env = new Dictionary<string, string> { ["CDPGW_LOG_LEVEL"] = "verbose" };

        var error = Assert.Throws<OptionException>(() => CommandLine.Parse([], k => env.GetValueOrDefault(k)));

        Assert.Contains("--log-level", error.Message);
    }

    [Fact]
    public void NetworkBindTakesALongEnoughToken()
    {
        var options = CommandLine.Parse(["--bind", "0.0.0.0", "--token", "0123456789abcdef"], _ => null);

        Assert.Equal("0123456789abcdef", options.Token);
    }

    [Fact]
    public void ShortTokensAreFineOnLoopback()
    {
        var options = CommandLine.Parse(["--token", "t"], _ => null);

        Assert.Equal("t", options.Token);
    }

    [Fact]
    public void RuntimeFlagAllowancesRepeatAndArgumentsReplaceTheEnvironment()
    {
        var env = new Dictionary<string, string> { ["CDPGW_ALLOW_RUNTIME_FLAG"] = "--load-extension, --disable-web-security" };

        var fromEnvironment = CommandLine.Parse([], k => env.GetValueOrDefault(k));
        var fromArguments = CommandLine.Parse(["--allow-runtime-flag", "--No-Sandbox", "--allow-runtime-flag=log-file"], k => env.GetValueOrDefault(k));

        Assert.Equal(["--load-extension", "--disable-web-security"], fromEnvironment.AllowRuntimeFlags);
        Assert.Equal(["--no-sandbox", "--log-file"], fromArguments.AllowRuntimeFlags);
    }

    [Fact]
    public void EventsFileModeIsOctal()
    {
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, CommandLine.Parse([], _ => null).EventsFileMode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
            CommandLine.Parse(["--events-file-mode", "0640"], _ => null).EventsFileMode);
    }

    [Fact]
    public void UsageListsEveryDocumentedOption()
    {
        var usage = CommandLine.Usage();
        foreach (var option in new[] { "--bind", "--cdp-port", "--api-port", "--chromium", "--chromium-flags", "--headful", "--chromium-log",
                     "--restart-command", "--data-dir", "--events-file", "--restart-confirm-wait", "--max-message-bytes", "--max-connections",
                     "--token", "--allowed-origins", "--log-cdp-messages", "--api-token", "--allowed-hosts", "--allow-runtime-flag", "--events-file-mode", "--queue", "--queue-timeout", "--version" })
        {
            Assert.Contains(option, usage);
        }
    }

    [Fact]
    public void VersionIsAskedForByItsOwnArgumentAnywhereOnTheLine()
    {
        Assert.True(CommandLine.AsksForVersion(["--version"]));
        Assert.True(CommandLine.AsksForVersion(["--cdp-port", "9300", "--version", "--no-such-option"]));
        Assert.False(CommandLine.AsksForVersion([]));
        Assert.False(CommandLine.AsksForVersion(["--cdp-port", "9300"]));
        Assert.False(CommandLine.AsksForVersion(["--versions"]));
        Assert.False(CommandLine.AsksForVersion(["--version=1"]));
    }

    [Fact]
    public void VersionIsNoOptionTheEnvironmentOrParsingCanSet()
    {
        // --version is an action, not a setting: CDPGW_VERSION means nothing and parsing does not take it.
        CommandLine.Parse([], k => k == "CDPGW_VERSION" ? "1" : null);
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse(["--version=1"], _ => null));
        Assert.Contains("--version", error.Message);
    }

    [Theory]
    [InlineData("0.1.0", "abc1234", "cdp-gateway 0.1.0 (commit abc1234)")]
    [InlineData("0.1.0+71f19e6aa3a7b0d5e4d8b1f6c7a1a2b3c4d5e6f7", "71f19e6", "cdp-gateway 0.1.0 (commit 71f19e6)")]
    [InlineData("0.1.0", null, "cdp-gateway 0.1.0 (commit unknown)")]
    [InlineData("0.1.0", "", "cdp-gateway 0.1.0 (commit unknown)")]
    public void TheVersionLineNamesTheVersionWithoutTheSourceRevisionAndTheCommit(string informational, string? commit, string expected)
    {
        Assert.Equal(expected, GatewayVersion.Line(informational, commit));
    }

    [Fact]
    public void TheBuiltGatewayCarriesItsVersionAndTheCommitItWasBuiltFrom()
    {
        Assert.Matches(@"^cdp-gateway 0\.1\.0 \(commit ([0-9a-f]{4,40}|unknown)\)$", GatewayVersion.Line());
    }
}
