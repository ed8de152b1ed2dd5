using CdpGateway.Hosting;

namespace CdpGateway.Tests.Hosting;

/// <summary><c>--unsupervised</c>: off unless given, from an argument or the environment, and in the usage.</summary>
public sealed class CommandLineUnsupervisedTests
{
    [Fact]
    public void UnsupervisedIsOffByDefaultAndSetByAnArgumentOrTheEnvironment()
    {
        Assert.False(CommandLine.Parse([], _ => null).Unsupervised);
        Assert.True(CommandLine.Parse(["--unsupervised"], _ => null).Unsupervised);
        Assert.True(CommandLine.Parse([], k => k == "CDPGW_UNSUPERVISED" ? "true" : null).Unsupervised);
        Assert.False(CommandLine.Parse(["--unsupervised=false"], k => k == "CDPGW_UNSUPERVISED" ? "true" : null).Unsupervised);
    }

    [Fact]
    public void UnsupervisedIsInTheUsageWithItsRisk()
    {
        var line = Assert.Single(CommandLine.Usage().Split('\n'), l => l.TrimStart().StartsWith("--unsupervised", StringComparison.Ordinal));
        Assert.Contains("may outlive the gateway", line);
    }
}
