using System.Net;
using CdpGateway.Proxy;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

public sealed class OpenConnectionsTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public void ASnapshotListsTheOpenConnectionsOldestFirst_WithWhatCdpConnectReported()
    {
        var open = new OpenConnections();
        open.Register("c2", "page", "PAGE1", new IPEndPoint(IPAddress.Loopback, 50001), At.AddSeconds(1));
        open.Register("c1", "browser", null, null, At);

        var snapshot = open.Snapshot();

        Assert.Equal(["c1", "c2"], snapshot.Select(c => c.ConnectionId));
        Assert.Equal(("page", "PAGE1", "127.0.0.1:50001", At.AddSeconds(1)), (snapshot[1].Target, snapshot[1].TargetId, snapshot[1].Client, snapshot[1].ConnectedAt));
        Assert.Null(snapshot[0].TargetId);
        Assert.Equal(2, open.Count);
    }

    [Fact]
    public void TrafficIsTheFinishedTotalsPlusTheOpenConnectionsCountersNow()
    {
        var open = new OpenConnections();
        var first = open.Register("c1", "browser", null, null, At);
        var second = open.Register("c2", "browser", null, null, At);
        first.FromClient.EndForward(payloadBytes: 10, messages: 1);
        second.FromUpstream.EndForward(payloadBytes: 7, messages: 2);

        Assert.Equal(new RelayTraffic(1, 2, 10, 7), open.Traffic());

        open.Unregister("c1", first.Traffic);
        first.FromClient.EndForward(payloadBytes: 1000, messages: 100); // after its end: no longer read

        Assert.Equal(new RelayTraffic(1, 2, 10, 7), open.Traffic());
        Assert.Equal(["c2"], open.Snapshot().Select(c => c.ConnectionId));
    }

    [Fact]
    public void UnregisteringAnUnknownOrAlreadyEndedConnectionAddsNothing()
    {
        var open = new OpenConnections();
        var entry = open.Register("c1", "browser", null, null, At);
        entry.FromClient.EndForward(payloadBytes: 5, messages: 1);
        open.Unregister("c1", entry.Traffic);

        open.Unregister("c1", entry.Traffic);
        open.Unregister("nobody", new RelayTraffic(1, 1, 1, 1));

        Assert.Equal(new RelayTraffic(1, 0, 5, 0), open.Traffic());
    }

    [Fact]
    public async Task AReadingRacingTheEndOfConnectionsCountsEachExactlyOnce()
    {
        const int Connections = 2000;
        var open = new OpenConnections();
        var entries = Enumerable.Range(0, Connections).Select(i =>
        {
            var entry = open.Register("c" + i, "browser", null, null, At);
            entry.FromClient.EndForward(payloadBytes: 3, messages: 1);
            return entry;
        }).ToList();
        var expected = new RelayTraffic(Connections, 0, 3 * Connections, 0);
        using var stop = new CancellationTokenSource();
        var readings = 0;
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                // Never twice (a connection both open and finished) and never zero times (in neither).
                Assert.Equal(expected, open.Traffic());
                Interlocked.Increment(ref readings);
            }
        });
        await Eventually.TrueAsync(() => Volatile.Read(ref readings) > 0, "a first reading");

        foreach (var entry in entries)
        {
            open.Unregister(entry.ConnectionId, entry.Traffic);
        }
        await stop.CancelAsync();
        await reader;

        Assert.Equal(expected, open.Traffic());
        Assert.Equal(0, open.Count);
    }
}
