using System.Runtime.InteropServices;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Puts the calling thread under Linux's <c>SCHED_BATCH</c> policy: same share of the CPU as any other thread (so
/// telemetry is never starved into dropping commands), but waking up does not preempt a running thread. The command
/// worker wakes once per batch; without it, each wake-up may take the core from a relay thread in the middle of its
/// work, and every connection on that thread waits for telemetry. Forwarding comes first.
/// </summary>
internal static class BatchScheduling
{
    private const int SchedBatch = 3;

    [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static extern int SetSchedulerNative(int pid, int policy, ref int priority);

    /// <summary>True when the policy took; false where it does not exist (not Linux) or was refused.</summary>
    public static bool TryApplyToCurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }
        try
        {
            // pid 0 is the calling thread: Linux schedules threads, not processes. Lowering needs no privilege.
            int priority = 0;
            return SetSchedulerNative(0, SchedBatch, ref priority) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
