using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace CdpGateway.Browser;

/// <summary>The few libc calls the browser supervision needs (Linux).</summary>
internal static class Posix
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    // struct stat begins with dev_t st_dev; ino_t st_ino; on every 64-bit Linux ABI (x86_64, aarch64).
    private const int StatBufferSize = 256;

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuidNative();

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int KillNative(int pid, int signal);

    [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
    private static extern int StatNative([MarshalAs(UnmanagedType.LPUTF8Str)] string path, [Out] byte[] buffer);

    [DllImport("libc", EntryPoint = "fstat", SetLastError = true)]
    private static extern int FStatNative(int fd, [Out] byte[] buffer);

    public static bool IsRoot
    {
        get
        {
            try
            {
                return GetEuidNative() == 0;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return Environment.UserName == "root";
            }
        }
    }

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false if it could not be delivered.</summary>
    public static bool Kill(int pid, int signal)
    {
        try
        {
            return KillNative(pid, signal) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Sends <paramref name="signal"/> to every process of group <paramref name="pgid"/>; false if none got it.</summary>
    public static bool KillGroup(int pgid, int signal) => pgid > 1 && Kill(-pgid, signal);

    /// <summary>The signal's name (SIGKILL) for the common ones, else SIG + its number.</summary>
    public static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => "SIG" + signal.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>(device, inode) of the file at <paramref name="path"/>, or null if unknown or missing.</summary>
    public static FileIdentity? Identity(string path)
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8)
        {
            return null;
        }
        var buffer = new byte[StatBufferSize];
        try
        {
            return StatNative(path, buffer) == 0 ? Read(buffer) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>(device, inode) of an open file, or null if unknown.</summary>
    public static FileIdentity? Identity(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8 || handle.IsInvalid || handle.IsClosed)
        {
            return null;
        }
        var buffer = new byte[StatBufferSize];
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return FStatNative((int)handle.DangerousGetHandle(), buffer) == 0 ? Read(buffer) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static FileIdentity Read(byte[] buffer) =>
        new(BitConverter.ToUInt64(buffer, 0), BitConverter.ToUInt64(buffer, 8));
}

internal readonly record struct FileIdentity(ulong Device, ulong Inode);
