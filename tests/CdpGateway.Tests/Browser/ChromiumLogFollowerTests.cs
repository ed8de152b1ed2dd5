using System.Text;
using CdpGateway.Browser;
using Microsoft.Extensions.Logging.Abstractions;

namespace CdpGateway.Tests.Browser;

public sealed class ChromiumLogFollowerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cdpgw-follow-").FullName;
    private readonly DevToolsUrlTracker _tracker = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string LogPath => Path.Combine(_dir, "chromium.log");

    private static string Url(int port, string id = "b") => $"ws://127.0.0.1:{port}/devtools/browser/{id}";

    private static string Line(int port, string id = "b") => $"DevTools listening on {Url(port, id)}\n";

    private ChromiumLogFollower Follower(string? path = null) =>
        new(path ?? LogPath, _tracker, TimeProvider.System, NullLogger<ChromiumLogFollower>.Instance);

    private static void Append(string path, string text) => File.AppendAllText(path, text);

    private static CancellationToken Timeout(int seconds = 10) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public void WaitsForAFileThatDoesNotExistYetThenReadsItFromTheStart()
    {
        var follower = Follower();
        using var sub = _tracker.Subscribe();
        follower.PollOnce();
        Assert.False(sub.TryTake(out _));

        File.WriteAllText(LogPath, "[WARNING] noise\n" + Line(1) + "more noise\n");
        follower.PollOnce();
        Assert.True(sub.TryTake(out var url));
        Assert.Equal(Url(1), url);
    }

    [Fact]
    public void AppendedLinesAndAPartialLineCompletedLater()
    {
        File.WriteAllText(LogPath, Line(1));
        var follower = Follower();
        using var sub = _tracker.Subscribe();
        follower.PollOnce();
        Assert.True(sub.TryTake(out _));

        Append(LogPath, "noise\nDevTools listening on ws://127.0.0.1:2/devtools/bro");
        follower.PollOnce();
        Assert.False(sub.TryTake(out _)); // an incomplete line is not announced
        Assert.Equal(Url(1), _tracker.Current);

        Append(LogPath, "wser/b\n");
        follower.PollOnce();
        Assert.True(sub.TryTake(out var url));
        Assert.Equal(Url(2), url);
    }

    [Fact]
    public void TruncationRereadsFromTheStart()
    {
        File.WriteAllText(LogPath, new string('x', 5000) + "\n" + Line(1));
        var follower = Follower();
        using var sub = _tracker.Subscribe();
        follower.PollOnce();
        Assert.True(sub.TryTake(out _));

        File.WriteAllText(LogPath, Line(2)); // shorter than what was read: truncated and rewritten
        follower.PollOnce();
        Assert.True(sub.TryTake(out var url));
        Assert.Equal(Url(2), url);

        Append(LogPath, Line(3));
        follower.PollOnce();
        Assert.True(sub.TryTake(out url));
        Assert.Equal(Url(3), url);
    }

    [Fact]
    public void RotationFinishesTheOldFileThenReadsTheNewOneFromTheStart()
    {
        File.WriteAllText(LogPath, Line(1));
        var follower = Follower();
        using var sub = _tracker.Subscribe();
        follower.PollOnce();
        Assert.True(sub.TryTake(out _));

        var rotated = LogPath + ".1";
        File.Move(LogPath, rotated);
        Append(rotated, Line(2)); // the writer still has the old file open
        follower.PollOnce();
        Assert.True(sub.TryTake(out var url));
        Assert.Equal(Url(2), url);

        // The new file is longer than the old one, so only the inode tells it apart.
        File.WriteAllText(LogPath, new string('y', 20_000) + "\n" + Line(3));
        follower.PollOnce();
        Assert.True(sub.TryTake(out url));
        Assert.Equal(Url(3), url);

        Append(LogPath, Line(4));
        follower.PollOnce();
        Assert.True(sub.TryTake(out url));
        Assert.Equal(Url(4), url);
    }

    [Fact]
    public void AnUnchangedUrlNotifiesNobody()
    {
        File.WriteAllText(LogPath, Line(1));
        var follower = Follower();
        using var sub = _tracker.Subscribe();
        follower.PollOnce();
        Assert.True(sub.TryTake(out _));
        var generation = _tracker.Generation;

        Append(LogPath, "noise\n" + Line(1));
        follower.PollOnce();
        File.WriteAllText(LogPath, Line(1)); // truncated, same URL again
        follower.PollOnce();

        Assert.False(sub.TryTake(out _));
        Assert.Equal(generation, _tracker.Generation);
    }

    [Fact]
    public async Task LatestWinsForASlowSubscriber()
    {
        File.WriteAllText(LogPath, Line(1));
        var follower = Follower();
        using var slow = _tracker.Subscribe();
        for (var port = 1; port <= 4; port++)
        {
            Append(LogPath, Line(port));
            follower.PollOnce();
        }
        Assert.Equal(Url(4), _tracker.Current);
        Assert.Equal(Url(4), await slow.NextAsync(Timeout()));
        Assert.False(slow.TryTake(out _));
    }

    [Fact]
    public void LongLinesDoNotBreakIt()
    {
        File.WriteAllText(LogPath, new string('a', 200_000) + "\n" + Line(1));
        var follower = Follower();
        follower.PollOnce();
        Assert.Equal(Url(1), _tracker.Current);

        // A line over the limit, written across several polls, is skipped up to its newline.
        var chunk = new string('b', 700_000);
        for (var i = 0; i < 3; i++)
        {
            Append(LogPath, chunk);
            follower.PollOnce();
        }
        Append(LogPath, " DevTools listening on ws://127.0.0.1:9/devtools/browser/z\n" + Line(2));
        follower.PollOnce();
        Assert.Equal(Url(2), _tracker.Current);
    }

    [Fact]
    public async Task FollowsInTheBackgroundUntilDisposed()
    {
        var follower = Follower();
        using var sub = _tracker.Subscribe();
        await follower.StartAsync(Timeout());

        await using (var writer = new StreamWriter(new FileStream(LogPath, FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false)))
        {
            await writer.WriteAsync("starting\n" + Line(1));
            await writer.FlushAsync();
            Assert.Equal(Url(1), await sub.NextAsync(Timeout()));

            await writer.WriteAsync(Line(2));
            await writer.FlushAsync();
            Assert.Equal(Url(2), await sub.NextAsync(Timeout()));
        }

        File.Move(LogPath, LogPath + ".1");
        File.WriteAllText(LogPath, Line(3));
        Assert.Equal(Url(3), await sub.NextAsync(Timeout()));

        await follower.DisposeAsync().AsTask().WaitAsync(Timeout());
        Append(LogPath, Line(4));
        Assert.Equal(Url(3), _tracker.Current);
    }
}
