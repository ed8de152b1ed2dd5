using System.Runtime.InteropServices;

namespace CdpGateway.Hosting;

/// <summary>What the gateway does about launching Chromium on a platform (see <see cref="LaunchSupervision.Decide"/>).</summary>
public enum LaunchVerdict
{
    /// <summary>Start: attach mode (nothing launched), or launch mode with Chromium's process group supervised.</summary>
    Start,

    /// <summary>Start, launching Chromium without that supervision, as <c>--unsupervised</c> asked; the message is a warning.</summary>
    StartUnsupervised,

    /// <summary>Do not start (exit 2); the message says why and what to do.</summary>
    Refuse,
}

public sealed record LaunchDecision(LaunchVerdict Verdict, string? Message);

/// <summary>
/// Launch mode keeps Chromium from outliving the gateway by process-group supervision (Linux only): Chromium leads a
/// process group of its own (<c>setsid</c>), gets SIGKILL when the thread that launched it ends (<c>setpriv
/// --pdeathsig</c>), a watchdog shell kills the whole group when the gateway dies however it dies
/// (<c>ProcessGroupWatchdog</c>), and stops find the group's processes in <c>/proc</c>. Without it a killed gateway
/// leaves Chromium and its children running, still holding the profile and the DevTools port. Attach mode launches
/// nothing and needs none of it.
/// </summary>
public static class LaunchSupervision
{
    /// <summary>The facts the decision rests on: whether the platform has the supervision, and its name for messages.</summary>
    public readonly record struct Platform(bool SupervisesProcessGroups, string Name);

    /// <summary>This process's platform.</summary>
    public static Platform Here => new(OperatingSystem.IsLinux(), NameHere());

    /// <summary>Whether the gateway starts, given the platform, the mode and <c>--unsupervised</c>.</summary>
    public static LaunchDecision Decide(Platform platform, bool attachMode, bool unsupervised)
    {
        if (attachMode || platform.SupervisesProcessGroups)
        {
            return new(LaunchVerdict.Start, null);
        }
        if (unsupervised)
        {
            return new(LaunchVerdict.StartUnsupervised,
                $"Launching Chromium unsupervised (--unsupervised): {platform.Name} has no process-group supervision, so Chromium and its children may outlive the gateway if it is killed");
        }
        return new(LaunchVerdict.Refuse,
            $"launch mode needs process-group supervision, which the gateway has on Linux only, not on {platform.Name}: " +
            "use attach mode (--chromium-log FILE, with Chromium run by a supervisor of yours), or --unsupervised to launch Chromium anyway at the risk of it outliving the gateway");
    }

    private static string NameHere() =>
        OperatingSystem.IsMacOS() ? "macOS"
        : OperatingSystem.IsWindows() ? "Windows"
        : OperatingSystem.IsFreeBSD() ? "FreeBSD"
        : RuntimeInformation.OSDescription;
}

/// <summary>The gateway cannot start on this platform as configured; the message says why (exit 2, without the usage).</summary>
public sealed class PlatformRefusalException(string message) : Exception(message);
