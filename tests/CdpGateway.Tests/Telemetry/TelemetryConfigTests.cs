using CdpGateway.Telemetry;

namespace CdpGateway.Tests.Telemetry;

public sealed class TelemetryConfigTests
{
    [Fact]
    public void All_categories_are_on_by_default_and_no_method_is_excluded()
    {
        var config = new TelemetryConfig();
        foreach (string category in EventCategory.All)
        {
            Assert.True(config.IsEnabled(category));
        }
        Assert.Empty(config.ExcludedCdpMethods);
    }

    [Fact]
    public void A_category_can_be_switched_off_and_on_alone()
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
    public void Unknown_categories_are_never_enabled_and_cannot_be_set()
    {
        var config = new TelemetryConfig();
        Assert.False(config.IsEnabled("Connection"));
        Assert.Throws<ArgumentException>(() => config.SetEnabled("bogus", true));
    }

    [Fact]
    public void Excluded_methods_are_replaced_as_a_whole()
    {
        var config = new TelemetryConfig();
        config.SetExcludedCdpMethods(["Page.navigate", "Input.dispatchKeyEvent"]);
        Assert.True(config.IsCdpMethodExcluded("Page.navigate"));
        Assert.False(config.IsCdpMethodExcluded("page.navigate"));
        config.SetExcludedCdpMethods(["Target.createTarget"]);
        Assert.Equal(["Target.createTarget"], config.ExcludedCdpMethods);
    }
}
