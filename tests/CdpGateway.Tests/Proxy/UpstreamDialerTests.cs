using CdpGateway.Browser;
using CdpGateway.Proxy;
using FakeChromium;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Proxy;

public sealed class UpstreamDialerTests
{
    [Fact]
    public async Task AFailedDialReReadsTheCurrentUrl_CatchingAnUpdateItNeverHeardOf()
    {
        await using var browser = await FakeDevToolsServer.StartAsync();
        var tracker = new DevToolsUrlTracker();
        tracker.Set(browser.BrowserUrl);
        using var subscription = tracker.Subscribe(); // subscribed after the update: nothing will be heard
        var dialer = new UpstreamDialer(tracker, new FakeTimeProvider(), NullLogger<UpstreamDialer>.Instance);
        var stale = $"ws://127.0.0.1:{DisconnectScenarioTests.DeadPort()}/devtools/browser/stale";

        var result = await dialer.DialAsync(UpgradeTarget.FromPath("/"), stale, subscription, TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.True(result.Succeeded);
        Assert.Equal(browser.BrowserUrl, result.BrowserUrl);
        result.Upstream!.Dispose();
    }

    [Fact]
    public async Task WithNoBrowserTheDialGivesUpWhenTheWindowEnds()
    {
        var tracker = new DevToolsUrlTracker();
        var dead = $"ws://127.0.0.1:{DisconnectScenarioTests.DeadPort()}/devtools/browser/x";
        tracker.Set(dead);
        using var subscription = tracker.Subscribe();
        var clock = new FakeTimeProvider();
        var dialer = new UpstreamDialer(tracker, clock, NullLogger<UpstreamDialer>.Instance);

        var dial = dialer.DialAsync(UpgradeTarget.FromPath("/"), dead, subscription, TimeSpan.FromSeconds(5), CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(4.9));
        await Task.Delay(50);
        Assert.False(dial.IsCompleted, "gave up before the window ended");
        clock.Advance(TimeSpan.FromSeconds(0.2));
        var result = await dial.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(result.Succeeded);
        Assert.Contains("5 s", result.Error);
    }

    [Theory]
    [InlineData("/devtools/page/ABC", "page", "/devtools/page/ABC")]
    [InlineData("/devtools/worker/W1", "page", "/devtools/worker/W1")]
    [InlineData("/devtools/browser/old", "browser", null)]
    [InlineData("/", "browser", null)]
    [InlineData("/anything/else?x=1", "browser", null)]
    [InlineData("/devtools/page/", "browser", null)]
    public void PathsRouteToTargetsOrTheBrowser(string path, string telemetryName, string? targetPath)
    {
        var target = UpgradeTarget.FromPath(path);
        Assert.Equal(telemetryName, target.TelemetryName);
        Assert.Equal(targetPath, target.TargetPath);
    }
}
