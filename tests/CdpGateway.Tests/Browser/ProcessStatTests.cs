using CdpGateway.Browser;

namespace CdpGateway.Tests.Browser;

/// <summary>
/// How the supervisor tells a browser on its way out from one that stopped answering: a crashed process closes its
/// sockets while its state in /proc still reads running, but the kernel has already marked it exiting.
/// </summary>
public sealed class ProcessStatTests
{
    [Theory]
    [InlineData('S', 0x0u, false)]
    [InlineData('R', 0x400100u, false)]
    [InlineData('R', 0x400104u, true)]
    [InlineData('D', 0x4u, true)]
    [InlineData('Z', 0x0u, true)]
    [InlineData('X', 0x0u, true)]
    public void AProcessIsExitingWhenDeadAZombieOrFlaggedExiting(char state, uint flags, bool exiting)
    {
        Assert.Equal(exiting, new ProcessTree.Stat(1, state, 0, 1, 0, flags).Exiting);
    }

    [Fact]
    public void ThisRunningProcessReadsAsNotExiting()
    {
        var stat = ProcessTree.ReadStat(Environment.ProcessId);

        Assert.NotNull(stat);
        Assert.False(stat.Value.Exiting);
        Assert.Equal(0u, stat.Value.Flags & 0x4u);
    }
}
