using CdpGateway.Browser;

namespace CdpGateway.Tests.Browser;

public sealed class DevToolsUrlTrackerTests
{
    [Fact]
    public async Task ASlowSubscriberGetsOnlyTheLatestUrl_AndLaterUpdatesStillArrive()
    {
        var tracker = new DevToolsUrlTracker();
        using var subscription = tracker.Subscribe();

        tracker.Set("ws://127.0.0.1:1/devtools/browser/old");
        tracker.Set("ws://127.0.0.1:2/devtools/browser/new");

        Assert.Equal("ws://127.0.0.1:2/devtools/browser/new", await subscription.NextAsync(CancellationToken.None));
        Assert.False(subscription.TryTake(out _));
        tracker.Set("ws://127.0.0.1:3/devtools/browser/newer");
        Assert.Equal("ws://127.0.0.1:3/devtools/browser/newer", await subscription.NextAsync(CancellationToken.None));
    }

    [Fact]
    public void TheUrlIsStoredBeforeSubscribersHearOfIt_AndAnUnchangedUrlNotifiesNobody()
    {
        var tracker = new DevToolsUrlTracker();
        using var subscription = tracker.Subscribe();

        Assert.True(tracker.Set("ws://127.0.0.1:1/devtools/browser/a"));
        Assert.True(subscription.TryTake(out var heard));
        Assert.Equal(tracker.Current, heard);

        Assert.False(tracker.Set("ws://127.0.0.1:1/devtools/browser/a"));
        Assert.False(tracker.Set("ws://user@127.0.0.1:1/devtools/browser/a#frag")); // same URL once normalized
        Assert.False(tracker.Set(""));
        Assert.False(subscription.TryTake(out _));
        Assert.Equal(1, tracker.Generation);
    }

    [Fact]
    public async Task ConcurrentUpdatesEndWithEverySubscriberOnTheStoredUrl()
    {
        var tracker = new DevToolsUrlTracker();
        var subscriptions = Enumerable.Range(0, 8).Select(_ => tracker.Subscribe()).ToList();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                tracker.Set($"ws://127.0.0.1:{1000 + t}/devtools/browser/{i}");
            }
        })));

        foreach (var subscription in subscriptions)
        {
            string last = "";
            while (subscription.TryTake(out var url))
            {
                last = url;
            }
            Assert.Equal(tracker.Current, last);
            subscription.Dispose();
        }
        Assert.Equal(0, tracker.SubscriberCount);
    }
}
