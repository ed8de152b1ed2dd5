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
    [InlineData(new[] { "--instance-id", "web.7" }, "--instance-id")]
    [InlineData(new[] { "--instance-id", "cdp.>" }, "--instance-id")]
    [InlineData(new[] { "--instance-id", "" }, "--instance-id")]
    [InlineData(new[] { "--otlp-endpoint", "collector:4318" }, "--otlp-endpoint")]
    [InlineData(new[] { "--otlp-endpoint", "ftp://collector:4318" }, "--otlp-endpoint")]
    [InlineData(new[] { "--otlp-endpoint", "file:///etc/passwd" }, "--otlp-endpoint")]
    [InlineData(new[] { "--otlp-endpoint", "http://user:secret@collector:4318" }, "--otlp-endpoint")]
    [InlineData(new[] { "--otlp-endpoint", "http://collector:4318/?x=1" }, "--otlp-endpoint")]
    [InlineData(new[] { "--otlp-protocol", "thrift" }, "--otlp-protocol")]
    [InlineData(new[] { "--log-format", "xml" }, "--log-format")]
    public void BadInputIsAnErrorNamingTheOption(string[] args, string named)
    {
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse(args, _ => null));
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void OtlpExportIsOffAndLogsArePlainUnlessTold_AndTheOptionsTakeTheirVariables()
    {
        var defaults = CommandLine.Parse([], _ => null);
        Assert.Null(defaults.OtlpEndpoint);
        Assert.Equal("http", defaults.OtlpProtocol);
        Assert.Equal("plain", defaults.LogFormat);

        var told = CommandLine.Parse(["--otlp-endpoint", "https://collector.example:4318", "--otlp-protocol=grpc", "--log-format", "json"], _ => null);
        Assert.Equal(("https://collector.example:4318", "grpc", "json"), (told.OtlpEndpoint, told.OtlpProtocol, told.LogFormat));
        var env = new Dictionary<string, string> { ["CDPGW_OTLP_ENDPOINT"] = "http://127.0.0.1:4318", ["CDPGW_LOG_FORMAT"] = "json" };
        var fromEnvironment = CommandLine.Parse([], k => env.GetValueOrDefault(k));
        Assert.Equal(("http://127.0.0.1:4318", "json"), (fromEnvironment.OtlpEndpoint, fromEnvironment.LogFormat));
        Assert.Contains("--otlp-endpoint", CommandLine.Usage());
        Assert.Contains("--log-format", CommandLine.Usage());
    }

    [Fact]
    public void BadEnvironmentValuesAreErrorsNamingTheOption()
    {
        var env = new Dictionary<string, string> { ["CDPGW_LOG_LEVEL"] = "verbose" };

        var error = Assert.Throws<OptionException>(() => CommandLine.Parse([], k => env.GetValueOrDefault(k)));

        Assert.Contains("--log-level", error.Message);
    }

    [Theory]
    [InlineData("--cdp-port", "9400")]
    [InlineData("--token", "a=b c")]
    [InlineData("--chromium-flags", "--lang=fr --mute-audio")]
    [InlineData("--restart-confirm-wait", "500ms")]
    [InlineData("--allow-runtime-flag", "--log-file")]
    [InlineData("--log-level", "debug")]
    [InlineData("--otlp-endpoint", "http://127.0.0.1:4318")]
    [InlineData("--log-format", "json")]
    public void AValueReadsTheSameAfterASpaceOrAnEqualsSign(string option, string value)
    {
        var spaced = CommandLine.Parse([option, value], _ => null);
        var joined = CommandLine.Parse([$"{option}={value}"], _ => null);

        Assert.Equivalent(spaced, joined, strict: true);
        Assert.Equivalent(CommandLine.Parse([], k => k == "CDPGW_" + option[2..].ToUpperInvariant().Replace('-', '_') ? value : null), joined, strict: true);
    }

    [Fact]
    public void EveryKindOfValueTakesTheArgumentOverTheEnvironment()
    {
        var env = new Dictionary<string, string>
        {
            ["CDPGW_TOKEN"] = "from-env",
            ["CDPGW_QUEUE_TIMEOUT"] = "5s",
            ["CDPGW_MAX_MESSAGE_BYTES"] = "1000",
            ["CDPGW_HEADFUL"] = "yes",
            ["CDPGW_EVENTS_FILE_MODE"] = "0640",
            ["CDPGW_CHROMIUM_LOG"] = "/var/log/chromium.log",
        };

        var fromEnvironment = CommandLine.Parse([], k => env.GetValueOrDefault(k));
        var overridden = CommandLine.Parse(
            ["--token=from-args", "--queue-timeout", "2m", "--max-message-bytes", "2000", "--headful=false", "--events-file-mode", "0600"],
            k => env.GetValueOrDefault(k));

        Assert.Equal(("from-env", TimeSpan.FromSeconds(5), 1000L, true), (fromEnvironment.Token, fromEnvironment.QueueTimeout, fromEnvironment.MaxMessageBytes, fromEnvironment.Headful));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, fromEnvironment.EventsFileMode);
        Assert.Equal(("from-args", TimeSpan.FromMinutes(2), 2000L, false), (overridden.Token, overridden.QueueTimeout, overridden.MaxMessageBytes, overridden.Headful));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, overridden.EventsFileMode);
        Assert.Equal("/var/log/chromium.log", overridden.ChromiumLog);
    }

    [Fact]
    public void AnOptionGivenTwiceTakesItsLastValueAndARepeatableOneKeepsThemAllInOrder()
    {
        Assert.Equal(9302, CommandLine.Parse(["--cdp-port", "9301", "--cdp-port=9302"], _ => null).CdpPort);

        var names = Enumerable.Range(0, 12).Select(i => $"--flag-{i}").ToArray();
        var options = CommandLine.Parse([.. names.SelectMany(n => new[] { "--allow-runtime-flag", n })], _ => null);

        Assert.Equal(names, options.AllowRuntimeFlags);
    }

    [Fact]
    public void ARepeatableOptionFromTheEnvironmentIsCommaSeparatedAndEachValueIsChecked()
    {
        var good = CommandLine.Parse([], k => k == "CDPGW_ALLOW_RUNTIME_FLAG" ? "log-file,,  --Load-Extension " : null);
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse([], k => k == "CDPGW_ALLOW_RUNTIME_FLAG" ? "log-file,--gpu-launcher=/bin/sh" : null));

        Assert.Equal(["--log-file", "--load-extension"], good.AllowRuntimeFlags);
        Assert.Contains("CDPGW_ALLOW_RUNTIME_FLAG", error.Message);
        Assert.Contains("--allow-runtime-flag", error.Message);
    }

    [Fact]
    public void ASwitchWithoutAValueTakesNothingAfterItButTrueOrFalseAndAValueMayLookLikeAnOption()
    {
        Assert.False(CommandLine.Parse(["--headful", "false"], _ => null).Headful);
        Assert.True(CommandLine.Parse(["--headful", "true"], _ => null).Headful);

        var options = CommandLine.Parse(["--headful", "--cdp-port", "9400", "--log-cdp-messages", "--token", "--unsupervised"], _ => null);

        Assert.True(options.Headful);
        Assert.True(options.LogCdpMessages);
        Assert.Equal(9400, options.CdpPort);
        Assert.Equal("--unsupervised", options.Token);
        Assert.False(options.Unsupervised);
    }

    [Theory]
    [InlineData(new[] { "--headful", "yes" }, "'yes'")]
    [InlineData(new[] { "--headful=maybe" }, "'maybe'")]
    [InlineData(new[] { "--headful=off" }, "'off'")]
    [InlineData(new[] { "--token" }, "--token")]
    [InlineData(new[] { "--allow-runtime-flag" }, "--allow-runtime-flag")]
    [InlineData(new[] { "--cdp-port=" }, "--cdp-port")]
    [InlineData(new[] { "--no-such-option=1" }, "--no-such-option")]
    [InlineData(new[] { "--CDP-PORT", "9300" }, "--CDP-PORT")]
    [InlineData(new[] { "--CDP_PORT=9300" }, "--CDP_PORT")]
    [InlineData(new[] { "-cdp-port", "9300" }, "-cdp-port")]
    [InlineData(new[] { "/cdp-port", "9300" }, "/cdp-port")]
    [InlineData(new[] { "cdp-port=9300" }, "cdp-port=9300")]
    [InlineData(new[] { "--", "x" }, "'x'")]
    [InlineData(new[] { "@args.txt" }, "'@args.txt'")]
    [InlineData(new[] { "[diagram]", "--cdp-port", "9300" }, "'[diagram]'")]
    [InlineData(new[] { "--token=" }, "--token")]
    [InlineData(new[] { "-?" }, "'-?'")]
    [InlineData(new[] { "--cdp-port", "0x10" }, "--cdp-port")]
    [InlineData(new[] { "--cdp-port", "+9300" }, "--cdp-port")]
    [InlineData(new[] { "--cdp-port", "70000" }, "--cdp-port")]
    [InlineData(new[] { "--max-connections", "0" }, "--max-connections")]
    [InlineData(new[] { "--idle-timeout", "00:00:05" }, "--idle-timeout")]
    [InlineData(new[] { "--restart-confirm-wait", "-1s" }, "--restart-confirm-wait")]
    public void WhatALooseParserWouldAcceptIsAnErrorNamingIt(string[] args, string named)
    {
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse(args, _ => null));

        Assert.Contains(named, error.Message);
    }

    [Theory]
    [InlineData("CDPGW_CDP_PORT", "http", "--cdp-port")]
    [InlineData("CDPGW_BIND", "nonsense", "--bind")]
    [InlineData("CDPGW_QUEUE_TIMEOUT", "later", "--queue-timeout")]
    [InlineData("CDPGW_HEADFUL", "maybe", "--headful")]
    [InlineData("CDPGW_EVENTS_FILE_MODE", "0755", "--events-file-mode")]
    public void ABadVariableIsAnErrorNamingTheVariableAndItsOption(string variable, string value, string option)
    {
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse([], k => k == variable ? value : null));

        Assert.StartsWith($"{variable} ({option}): '{value}'", error.Message);
    }

    [Fact]
    public void AnEmptyVariableIsUnsetButAnEmptyArgumentIsAValue()
    {
        var env = new Dictionary<string, string> { ["CDPGW_CDP_PORT"] = "", ["CDPGW_TOKEN"] = "", ["CDPGW_HEADFUL"] = "" };

        var options = CommandLine.Parse([], k => env.GetValueOrDefault(k));
        var emptyToken = CommandLine.Parse(["--token", ""], k => k == "CDPGW_TOKEN" ? "secret-from-the-environment" : null);

        Assert.Equal((9222, null, false), (options.CdpPort, options.Token, options.Headful));
        Assert.Equal("", emptyToken.Token);
    }

    [Fact]
    public void AnArgumentHidesABadVariableForTheSameOption()
    {
        var env = new Dictionary<string, string> { ["CDPGW_CDP_PORT"] = "http" };

        Assert.Equal(9400, CommandLine.Parse(["--cdp-port", "9400"], k => env.GetValueOrDefault(k)).CdpPort);
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
                     "--token", "--allowed-origins", "--log-cdp-messages", "--api-token", "--allowed-hosts", "--allow-runtime-flag", "--events-file-mode", "--queue", "--queue-timeout", "--version", "--instance-id" })
        {
            Assert.Contains(option, usage);
        }
    }

    [Fact]
    public void VersionIsAskedForByItsOwnArgumentAnywhereOnTheLine()
    {
        Assert.True(AsksForVersion("--version"));
        Assert.True(AsksForVersion("--cdp-port", "9300", "--version", "--no-such-option"));
        Assert.False(AsksForVersion());
        Assert.False(AsksForVersion("--cdp-port", "9300"));
        Assert.False(AsksForVersion("--versions"));
    }

    [Fact]
    public void VersionIsNoOptionTheEnvironmentCanSetAndPrintsTheVersionLine()
    {
        // --version is an action, not a setting: CDPGW_VERSION means nothing.
        Assert.False(CommandLine.Read([], k => k == "CDPGW_VERSION" ? "1" : null) is { Action: not null });
        using var output = new StringWriter();

        Assert.Equal(0, CommandLine.Read(["--version"], _ => null).Invoke(new System.CommandLine.InvocationConfiguration { Output = output }));
        Assert.Equal(GatewayVersion.Line() + Environment.NewLine, output.ToString());
    }

    [Fact]
    public void HelpWinsOverABadLineAndShowsNoValueFromTheEnvironment()
    {
        var result = CommandLine.Read(["--cdp-port", "x", "--help"], k => k == "CDPGW_TOKEN" ? "secret-from-the-environment" : null);
        using var output = new StringWriter();

        Assert.IsType<System.CommandLine.Help.HelpAction>(result.Action);
        Assert.Equal(0, result.Invoke(new System.CommandLine.InvocationConfiguration { Output = output }));
        Assert.Contains("--cdp-port <N>", output.ToString());
        Assert.DoesNotContain("secret", output.ToString());
        Assert.Equal(CommandLine.Usage(), output.ToString());
    }

    /// <summary>What Program asks: an action and no error, and not help.</summary>
    private static bool AsksForVersion(params string[] args) =>
        CommandLine.Read(args, _ => null) is { Action: { } action, Errors.Count: 0 } && action is not System.CommandLine.Help.HelpAction;

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
