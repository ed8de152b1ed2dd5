using CdpGateway.Telemetry.Commands;

namespace CdpGateway.Tests.Telemetry.Commands;

/// <summary>The command worker's thread yields to forwarding: Linux runs it under SCHED_BATCH.</summary>
public sealed class BatchSchedulingTests
{
    [Fact]
    public void AThreadThatAsksRunsUnderSchedBatchAndOthersDoNot()
    {
        Assert.True(OperatingSystem.IsLinux(), "the gateway runs on Linux");
        int before = -1, after = -1;
        bool applied = false;
        var thread = new Thread(() =>
        {
            before = CurrentPolicy();
            applied = BatchScheduling.TryApplyToCurrentThread();
            after = CurrentPolicy();
        });
        thread.Start();
        thread.Join();

        Assert.Equal(0, before); // SCHED_OTHER
        Assert.True(applied);
        Assert.Equal(3, after); // SCHED_BATCH
        Assert.Equal(0, CurrentPolicy()); // only the thread that asked
    }

    /// <summary>The scheduling policy of the calling thread, from /proc (field 41 of stat).</summary>
    private static int CurrentPolicy()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[41 - 3], System.Globalization.CultureInfo.InvariantCulture);
    }
}
