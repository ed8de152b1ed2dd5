using CdpGateway.Telemetry.Stats;

namespace CdpGateway.Tests.Telemetry.Stats;

public sealed class StatsRingTests
{
    private static long[] Row(long value)
    {
        var row = new long[StatsColumns.Count];
        Array.Fill(row, value);
        return row;
    }

    [Fact]
    public void TheFifteenMinuteRingWrapsWithoutGrowing_AndKeepsTheNewestSamplesInOrder()
    {
        var ring = new StatsRing(StatsSampler.SecondCapacity, StatsSampler.SecondStep);
        var storage = ring.StorageLength;
        var end = DateTimeOffset.UnixEpoch;

        for (int i = 1; i <= 2 * StatsSampler.SecondCapacity + 17; i++)
        {
            end += StatsSampler.SecondStep;
            ring.Add(Row(i), $"s{i}", end);
        }

        Assert.Equal(storage, ring.StorageLength);
        Assert.Equal(StatsSampler.SecondCapacity, ring.Count);
        var connects = ring.Column(StatsColumns.Connects, StatsSampler.SecondCapacity);
        Assert.Equal(StatsSampler.SecondCapacity, connects.Length);
        Assert.Equal(StatsSampler.SecondCapacity + 18, connects[0]);
        Assert.Equal(2 * StatsSampler.SecondCapacity + 17, connects[^1]);
        Assert.Equal(Enumerable.Range(StatsSampler.SecondCapacity + 18, StatsSampler.SecondCapacity).Select(i => (long)i), connects);
        Assert.Equal(["s1815", "s1816", "s1817"], ring.States(3));
        Assert.Equal(end, ring.NewestEnd);
    }

    [Fact]
    public void AskingForMoreSamplesThanHeldGivesWhatIsHeld()
    {
        var ring = new StatsRing(4, StatsSampler.SecondStep);
        ring.Add(Row(1), "ready", DateTimeOffset.UnixEpoch);
        ring.Add(Row(2), "ready", DateTimeOffset.UnixEpoch);

        Assert.Equal([1L, 2L], ring.Column(StatsColumns.Commands, 60));
        Assert.Equal([2L], ring.Column(StatsColumns.Commands, 1));
        Assert.Empty(new StatsRing(4, StatsSampler.SecondStep).Column(StatsColumns.Commands, 60));
    }
}
