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

    [Theory]
    [InlineData(new[] { "--no-such-option" }, "--no-such-option")]
    [InlineData(new[] { "--cdp-port", "http" }, "--cdp-port")]
    [InlineData(new[] { "--cdp-port" }, "--cdp-port")]
    [InlineData(new[] { "--restart-confirm-wait", "soon" }, "--restart-confirm-wait")]
    [InlineData(new[] { "--max-message-bytes", "-5" }, "--max-message-bytes")]
    [InlineData(new[] { "stray" }, "stray")]
    public void BadInputIsAnErrorNamingTheOption(string[] args, string named)
    {
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse(args, _ => null));
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void UsageListsEveryDocumentedOption()
    {
        var usage = CommandLine.Usage();
        foreach (var option in new[] { "--bind", "--cdp-port", "--api-port", "--chromium", "--chromium-flags", "--headful", "--chromium-log",
                     "--restart-command", "--data-dir", "--events-file", "--restart-confirm-wait", "--max-message-bytes", "--max-connections",
                     "--token", "--allowed-origins", "--log-cdp-messages" })
        {
            Assert.Contains(option, usage);
        }
    }
}
