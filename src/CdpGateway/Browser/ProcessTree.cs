using System.Globalization;

namespace CdpGateway.Browser;

/// <summary>A process seen in /proc, identified by pid and start time (so a reused pid is never hit).</summary>
internal readonly record struct ProcessEntry(int Pid, long StartTime)
{
    /// <summary>SIGKILLs the process if it is still the same one and not yet a zombie.</summary>
    public void KillIfAlive()
    {
        if (ProcessTree.ReadStat(Pid) is { } stat && stat.StartTime == StartTime && stat.State != 'Z')
        {
            Posix.Kill(Pid, Posix.SIGKILL);
        }
    }

    public bool IsAlive => ProcessTree.ReadStat(Pid) is { } stat && stat.StartTime == StartTime && stat.State is not ('Z' or 'X');
}

/// <summary>Linux /proc helpers to find a process's descendants.</summary>
internal static class ProcessTree
{
    internal readonly record struct Stat(int Pid, char State, int ParentPid, int ProcessGroup, long StartTime, uint Flags = 0)
    {
        // PF_EXITING: set as the kernel begins tearing the process down, before its descriptors close.
        private const uint PfExiting = 0x4;

        /// <summary>Dead, a zombie, or already on its way out (its sockets may be closing while its state still reads running).</summary>
        public bool Exiting => State is 'Z' or 'X' || (Flags & PfExiting) != 0;
    }

    /// <summary>Every live descendant of <paramref name="rootPid"/> (children, grandchildren, ...).</summary>
    public static IReadOnlyList<ProcessEntry> Descendants(int rootPid)
    {
        if (!OperatingSystem.IsLinux())
        {
            return [];
        }
        var children = new Dictionary<int, List<Stat>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ReadStat(pid) is { } stat)
            {
                if (!children.TryGetValue(stat.ParentPid, out var list))
                {
                    children[stat.ParentPid] = list = [];
                }
                list.Add(stat);
            }
        }
        var result = new List<ProcessEntry>();
        var pending = new Stack<int>();
        pending.Push(rootPid);
        while (pending.Count > 0)
        {
            if (!children.TryGetValue(pending.Pop(), out var list))
            {
                continue;
            }
            foreach (var child in list)
            {
                result.Add(new ProcessEntry(child.Pid, child.StartTime));
                pending.Push(child.Pid);
            }
        }
        return result;
    }

    /// <summary>Live (not zombie) members of process group <paramref name="pgid"/>.</summary>
    public static IReadOnlyList<ProcessEntry> GroupMembers(int pgid)
    {
        var result = new List<ProcessEntry>();
        if (!OperatingSystem.IsLinux())
        {
            return result;
        }
        foreach (var pid in Pids())
        {
            if (ReadStat(pid) is { } stat && stat.ProcessGroup == pgid && stat.State is not ('Z' or 'X'))
            {
                result.Add(new ProcessEntry(stat.Pid, stat.StartTime));
            }
        }
        return result;
    }

    /// <summary>
    /// Waits (bounded) until group <paramref name="pgid"/> has no live member; false on timeout. Polls: no
    /// event tells a process that another process's child died. Real time, not the injected clock: this
    /// waits on the kernel, which a fake clock does not drive.
    /// </summary>
    public static async Task<bool> WaitGroupGoneAsync(int pgid, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (GroupMembers(pgid).Count > 0)
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(5).ConfigureAwait(false);
        }
        return true;
    }

    private static IEnumerable<int> Pids()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>Waits (bounded) until none of <paramref name="processes"/> is alive; zombies count as gone.</summary>
    public static async Task WaitGoneAsync(IReadOnlyList<ProcessEntry> processes, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        // No event tells us another process's child has died, so this polls, briefly.
        while (processes.Any(p => p.IsAlive) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    internal static Stat? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        //  cutime cstime priority nice threads itrealvalue starttime ..." ; comm may hold spaces and ')'.
        var close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }
        var fields = text[(close + 2)..].Split(' ');
        if (fields.Length < 20
            || !int.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ppid)
            || !int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var pgrp)
            || !long.TryParse(fields[19], NumberStyles.Integer, CultureInfo.InvariantCulture, out var start)
            || !uint.TryParse(fields[6], NumberStyles.Integer, CultureInfo.InvariantCulture, out var flags))
        {
            return null;
        }
        return new Stat(pid, fields[0][0], ppid, pgrp, start, flags);
    }
}
