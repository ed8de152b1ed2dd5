using CdpGateway.Hosting;

namespace CdpGateway.Tests.Hosting;

/// <summary>Whether the gateway starts, from the platform's facts: the decision CI (on Linux) cannot meet otherwise.</summary>
public sealed class LaunchSupervisionTests
{
    private static readonly LaunchSupervision.Platform Linux = new(SupervisesProcessGroups: true, "Linux");
    private static readonly LaunchSupervision.Platform MacOs = new(SupervisesProcessGroups: false, "macOS");
    private static readonly LaunchSupervision.Platform Windows = new(SupervisesProcessGroups: false, "Windows");

    public static TheoryData<string, bool, bool, LaunchVerdict> Cases => new()
    {
        // platform, attach mode, --unsupervised, verdict
        { "Linux", false, false, LaunchVerdict.Start },
        { "Linux", false, true, LaunchVerdict.Start },
        { "Linux", true, false, LaunchVerdict.Start },
        { "macOS", true, false, LaunchVerdict.Start },
        { "Windows", true, true, LaunchVerdict.Start },
        { "macOS", false, false, LaunchVerdict.Refuse },
        { "Windows", false, false, LaunchVerdict.Refuse },
        { "macOS", false, true, LaunchVerdict.StartUnsupervised },
        { "Windows", false, true, LaunchVerdict.StartUnsupervised },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void LaunchModeStartsOnlyWhereChromiumIsSupervisedOrUnsupervisedIsAskedFor(string platform, bool attachMode, bool unsupervised,
        LaunchVerdict verdict)
    {
        var facts = platform switch { "Linux" => Linux, "macOS" => MacOs, _ => Windows };
        var decision = LaunchSupervision.Decide(facts, attachMode, unsupervised);
        Assert.Equal(verdict, decision.Verdict);
        // A plain start says nothing; the two others always say why.
        Assert.Equal(verdict == LaunchVerdict.Start, decision.Message is null);
    }

    [Fact]
    public void TheRefusalNamesThePlatformAndBothWaysOut()
    {
        var message = LaunchSupervision.Decide(MacOs, attachMode: false, unsupervised: false).Message!;
        Assert.Contains("macOS", message);
        Assert.Contains("Linux only", message);
        Assert.Contains("--chromium-log FILE", message);
        Assert.Contains("--unsupervised", message);
    }

    [Fact]
    public void TheUnsupervisedWarningSaysChromiumMayOutliveTheGateway()
    {
        var message = LaunchSupervision.Decide(Windows, attachMode: false, unsupervised: true).Message!;
        Assert.Contains("Windows", message);
        Assert.Contains("may outlive the gateway", message);
    }

    [Fact]
    public void ThisPlatformSupervisesProcessGroupsExactlyWhenItIsLinux() =>
        Assert.Equal(OperatingSystem.IsLinux(), LaunchSupervision.Here.SupervisesProcessGroups);
}
