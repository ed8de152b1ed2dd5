using CdpGateway.Telemetry;

namespace CdpGateway.Tests.Telemetry;

public sealed class TelemetryConfigTests
{
    [Fact]
    public void AllCategoriesAreOnByDefaultAndNoMethodIsExcluded()
    {
        var config = new TelemetryConfig();
        foreach (string category in EventCategory.All)
        {
            Assert.True(config.IsEnabled(category));
        }
        Assert.Empty(config.ExcludedCdpMethods);
    }

    [Fact]
    public void ACategoryCanBeSwitchedOffAndOnAlone()
    {
        var config = new TelemetryConfig();
        config.SetEnabled(EventCategory.Control, false);
        Assert.False(config.IsEnabled(EventCategory.Control));
        Assert.True(config.IsEnabled(EventCategory.Connection));
        Assert.True(config.IsEnabled(EventCategory.System));
        config.SetEnabled(EventCategory.Control, true);
        Assert.True(config.IsEnabled(EventCategory.Control));
    }

    [Fact]
    public void UnknownCategoriesAreNeverEnabledAndCannotBeSet()
    {
        var config = new TelemetryConfig();
        Assert.False(config.IsEnabled("Connection"));
        Assert.Throws<ArgumentException>(() => config.SetEnabled("bogus", true));
    }

    [Fact]
    public void ExcludedMethodsAreReplacedAsAWhole()
    {
        var config = new TelemetryConfig();
        config.SetExcludedCdpMethods(["Page.navigate", "Input.dispatchKeyEvent"]);
        Assert.True(config.IsCdpMethodExcluded("Page.navigate"));
        Assert.False(config.IsCdpMethodExcluded("page.navigate"));
        config.SetExcludedCdpMethods(["Target.createTarget"]);
        Assert.Equal(["Target.createTarget"], config.ExcludedCdpMethods);
    }
}
