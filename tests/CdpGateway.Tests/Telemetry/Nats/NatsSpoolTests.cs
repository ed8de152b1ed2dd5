using CdpGateway.Telemetry.Nats;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>The spool on its own: order, the byte limit, what a clean restart resends, and prepending.</summary>
public sealed class NatsSpoolTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cdpgw-spool-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static NatsSpoolRecord Record(int i) => new($"gw:b:{i}", $"cdp.gw.connection.cdp_connect", System.Text.Encoding.UTF8.GetBytes($"{{\"seq\":{i}}}"));

    private NatsSpool Open(long limit = 1 << 20) => NatsSpool.Open(_dir, limit, new RecordingLogger<NatsEventSink>());

    [Fact]
    public void RecordsComeBackInOrder_AndAcknowledgedOnesLeaveTheDisk()
    {
        using var spool = Open();
        for (int i = 1; i <= 5; i++)
        {
            Assert.True(spool.TryAppend(Record(i)));
        }
        Assert.Equal(5, spool.Events);
        for (int i = 1; i <= 5; i++)
        {
            var record = spool.ReadNext()!;
            Assert.Equal(Record(i).MsgId, record.MsgId);
            Assert.Equal(Record(i).Payload.ToArray(), record.Payload.ToArray());
            spool.Commit();
        }
        Assert.Null(spool.ReadNext());
        Assert.Equal((0, 0), (spool.Events, spool.Bytes));
        Assert.Empty(Directory.GetFiles(_dir, "*.seg"));
    }

    [Fact]
    public void ManySegments_AreReadInOrder_AndEachIsDeletedOnceAcknowledged()
    {
        using var spool = Open(limit: 1 << 20);
        for (int i = 1; i <= 5000; i++)
        {
            Assert.True(spool.TryAppend(Record(i)));
        }
        int segments = Directory.GetFiles(_dir, "*.seg").Length;
        Assert.True(segments > 2, $"{segments} segments");
        for (int i = 1; i <= 5000; i++)
        {
            Assert.Equal($"gw:b:{i}", spool.ReadNext()!.MsgId);
            spool.Commit();
            if (i == 2500)
            {
                Assert.True(Directory.GetFiles(_dir, "*.seg").Length < segments);
            }
        }
        Assert.Empty(Directory.GetFiles(_dir, "*.seg"));
        Assert.Equal(0, spool.Bytes);
    }

    [Fact]
    public void AppendBeyondTheLimit_IsRefused_AndTheBytesNeverExceedIt()
    {
        int size = Record(1).DiskBytes;
        using var spool = Open(limit: size * 3 + size / 2);

        Assert.True(spool.TryAppend(Record(1)));
        Assert.True(spool.TryAppend(Record(2)));
        Assert.True(spool.TryAppend(Record(3)));
        Assert.False(spool.TryAppend(Record(4)));
        Assert.Equal(3, spool.Events);
        Assert.Equal(size * 3, spool.Bytes);
    }

    [Fact]
    public void CleanRestart_ResumesAfterTheLastAcknowledgedRecord()
    {
        using (var spool = Open())
        {
            for (int i = 1; i <= 5; i++)
            {
                spool.TryAppend(Record(i));
            }
            spool.ReadNext();
            spool.Commit();
            spool.ReadNext();
            spool.Commit();
            // Read but not acknowledged: it must come again.
            spool.ReadNext();
        }
        using var reopened = Open();
        Assert.Equal(3, reopened.Events);
        Assert.Equal("gw:b:3", reopened.ReadNext()!.MsgId);
    }

    [Fact]
    public void PrependedRecords_ComeBeforeEverythingSpooled()
    {
        using var spool = Open();
        spool.TryAppend(Record(3));
        spool.TryAppend(Record(4));
        Assert.True(spool.Prepend([Record(1), Record(2)]));

        var order = new List<string>();
        while (spool.ReadNext() is { } record)
        {
            order.Add(record.MsgId);
            spool.Commit();
        }
        Assert.Equal(["gw:b:1", "gw:b:2", "gw:b:3", "gw:b:4"], order);
    }

    [Fact]
    public void ReadAheadAcrossSegments_CommitsOnlyTheAcknowledgedPrefix_AndARewindReadsTheRestAgain()
    {
        using var spool = Open(limit: 1 << 20);
        for (int i = 1; i <= 6000; i++)
        {
            Assert.True(spool.TryAppend(Record(i)));
        }
        int segments = Directory.GetFiles(_dir, "*.seg").Length;
        Assert.True(segments > 2, $"{segments} segments");

        // A window of 4000 in flight spans segments; the first 3000 are acknowledged, the rest are not.
        for (int i = 1; i <= 4000; i++)
        {
            Assert.Equal($"gw:b:{i}", spool.ReadNext()!.MsgId);
        }
        Assert.Equal(4000, spool.InFlight);
        for (int i = 1; i <= 3000; i++)
        {
            spool.Commit();
        }
        Assert.Equal(3000, spool.Events);
        Assert.True(Directory.GetFiles(_dir, "*.seg").Length < segments);

        spool.Rewind();
        Assert.Equal(0, spool.InFlight);
        Assert.Throws<InvalidOperationException>(() =>
        {
            spool.ReadNext();
            spool.Prepend([Record(0)]);
        });
        spool.Rewind();
        for (int i = 3001; i <= 6000; i++)
        {
            Assert.Equal($"gw:b:{i}", spool.ReadNext()!.MsgId);
            spool.Commit();
        }
        Assert.Null(spool.ReadNext());
        Assert.Equal((0, 0), (spool.Events, spool.Bytes));
        Assert.Empty(Directory.GetFiles(_dir, "*.seg"));
    }

    [Fact]
    public void CleanRestartWithAWindowInFlight_ResendsFromTheFirstRecordNotAcknowledged()
    {
        using (var spool = Open())
        {
            for (int i = 1; i <= 10; i++)
            {
                spool.TryAppend(Record(i));
            }
            for (int i = 1; i <= 6; i++)
            {
                spool.ReadNext();
            }
            spool.Commit();
            spool.Commit();
        }
        using var reopened = Open();
        Assert.Equal(8, reopened.Events);
        Assert.Equal("gw:b:3", reopened.ReadNext()!.MsgId);
    }
}
