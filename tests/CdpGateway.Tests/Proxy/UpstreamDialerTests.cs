using System.Net;
using System.Net.Sockets;
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

        // Still in the window, the dial takes up a URL announced now: it reaches a listener (no browser: it never answers
        // the upgrade). A dial that had given up (its window ends inside the advance, on the fake clock) never would.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        tracker.Set($"ws://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/devtools/browser/silent");
        var accept = silent.AcceptSocketAsync();
        Assert.Same(accept, await Task.WhenAny(accept, dial).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(dial.IsCompleted, "gave up before the window ended");
        using var arrived = await accept;

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
