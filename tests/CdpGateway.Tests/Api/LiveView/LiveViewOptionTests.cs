using CdpGateway.Hosting;

namespace CdpGateway.Tests.Api.LiveView;

public sealed class LiveViewOptionTests
{
    [Fact]
    public void TheLiveViewIsOffUnlessAskedFor_ByArgumentOrVariable()
    {
        Assert.False(CommandLine.Parse([], _ => null).LiveView);
        Assert.True(CommandLine.Parse(["--live-view"], _ => null).LiveView);
        Assert.True(CommandLine.Parse([], k => k == "CDPGW_LIVE_VIEW" ? "yes" : null).LiveView);
        Assert.False(CommandLine.Parse(["--live-view=false"], k => k == "CDPGW_LIVE_VIEW" ? "true" : null).LiveView);
        Assert.Contains("--live-view", CommandLine.Usage());
    }

    [Fact]
    public void ABadLiveViewValueIsOneError_NamingTheValue_OrTheVariableItCameFrom()
    {
        // As for every switch: the parser reads "=maybe" as no switch value, so it names the stray value.
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse(["--live-view=maybe"], _ => null));
        Assert.Contains("'maybe'", error.Message);
        var fromVariable = Assert.Throws<OptionException>(() => CommandLine.Parse([], k => k == "CDPGW_LIVE_VIEW" ? "sometimes" : null));
        Assert.Contains("CDPGW_LIVE_VIEW", fromVariable.Message);
    }
}
