using CdpGateway.Telemetry.Stats;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Telemetry.Stats;

public sealed class StatsSamplerTests
{
    [Fact]
    public async Task TheSamplerTicksOncePerSecondOfTheClock_AndAddsSixtySecondsIntoEachMinute()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        long connects = 0;
        var state = "ready";
        using var sampler = new StatsSampler(clock, totals =>
        {
            totals.Clear();
            totals[StatsColumns.ConnectionsOpen] = 3;
            totals[StatsColumns.Connects] = connects;
            return state;
        });
        await sampler.StartAsync(CancellationToken.None);

        for (int second = 0; second < 125; second++)
        {
            connects += 2;
            state = second == 70 ? "restarting" : "ready";
            clock.Advance(StatsSampler.SecondStep);
        }

        Assert.Equal(125, sampler.Seconds.Count);
        Assert.All(sampler.Seconds.Column(StatsColumns.Connects, 900), v => Assert.Equal(2, v));
        Assert.Equal([120L, 120L], sampler.Minutes.Column(StatsColumns.Connects, 60));
        Assert.Equal([3L, 3L], sampler.Minutes.Column(StatsColumns.ConnectionsOpen, 60));
        // ready → restarting → ready within the second minute, with no event to count: two changes seen by the samples.
        Assert.Equal([0L, 2L], sampler.Minutes.Column(StatsColumns.ChromiumChanges, 60));
        Assert.Equal(DateTimeOffset.UnixEpoch.AddMinutes(2), sampler.Minutes.NewestEnd);

        // Ten minutes more: the second ring holds at most 900, without growing.
        var storage = sampler.Seconds.StorageLength;
        clock.Advance(TimeSpan.FromMinutes(15));
        Assert.Equal(StatsSampler.SecondCapacity, sampler.Seconds.Count);
        Assert.Equal(storage, sampler.Seconds.StorageLength);
        Assert.Equal(125 + 900, sampler.Seconds.Added);
        await sampler.StopAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(125 + 900, sampler.Seconds.Added);
    }
}
