using System.Globalization;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// Chromium's profile singleton: <c>SingletonLock</c> (a symlink to <c>HOST-PID</c>), <c>SingletonSocket</c>
/// and <c>SingletonCookie</c>. Left behind by a killed browser, they make the next one think the profile
/// is in use and hand its command line to that (dead) process instead of starting. Cleared before each
/// start; a live Chromium still holding the profile (one that outlived an earlier gateway) is killed
/// first, since this profile belongs to this gateway.
/// </summary>
internal static class ProfileLocks
{
    private static readonly string[] Names = ["SingletonLock", "SingletonSocket", "SingletonCookie"];

    public static void Clear(string profileDir, ILogger logger)
    {
        var lockPath = Path.Combine(profileDir, "SingletonLock");
        if (OwnerPid(lockPath) is { } pid && IsChromiumOf(pid, profileDir))
        {
            logger.LogWarning("A Chromium left over from before (pid {Pid}) still holds profile {Profile}; killing it", pid, profileDir);
            var group = ProcessTree.ReadStat(pid) is { } stat && stat.ProcessGroup == pid;
            if (group)
            {
                Posix.KillGroup(pid, Posix.SIGKILL);
            }
            else
            {
                Posix.Kill(pid, Posix.SIGKILL);
            }
        }
        foreach (var name in Names)
        {
            var path = Path.Combine(profileDir, name);
            try
            {
                // File.Delete removes the link itself (dangling or not), never its target.
                if (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
                {
                    File.Delete(path);
                    logger.LogDebug("Removed stale {Lock} from {Profile}", name, profileDir);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                logger.LogWarning(e, "Could not remove {Path}", path);
            }
        }
    }

    /// <summary>The pid in <c>SingletonLock</c>'s target when it names this host.</summary>
    private static int? OwnerPid(string lockPath)
    {
        string? target;
        try
        {
            target = new FileInfo(lockPath).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
        var dash = target?.LastIndexOf('-') ?? -1;
        if (target is null || dash < 0 || target[..dash] != System.Net.Dns.GetHostName())
        {
            return null;
        }
        return int.TryParse(target.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    private static bool IsChromiumOf(int pid, string profileDir)
    {
        try
        {
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            return args.Contains($"--user-data-dir={profileDir}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
