using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;

namespace CdpGateway.Tests.Support;

/// <summary>
/// The gateway's own end of a TCP connection, found in this process (the gateway under test runs in it): the socket's
/// inode from /proc/net/tcp by its two ports, then the descriptor in /proc/self/fd that points at that inode.
/// </summary>
public static class GatewaySockets
{
    [DllImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static extern int GetSocketOption(int fd, int level, int name, ref int value, ref int length);

    /// <summary>The descriptor of the gateway's socket for the connection from <paramref name="client"/> to <paramref name="gatewayPort"/>.</summary>
    public static int AcceptedDescriptor(int gatewayPort, IPEndPoint client)
    {
        var inode = InodeOf(gatewayPort, client.Port) ?? throw new InvalidOperationException($"no socket from {client} to port {gatewayPort}");
        var link = $"socket:[{inode}]";
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(entry).LinkTarget == link)
                {
                    return int.Parse(Path.GetFileName(entry), CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                // A descriptor closed while we looked.
            }
        }
        throw new InvalidOperationException($"no descriptor of this process holds {link}");
    }

    /// <summary>An integer socket option, read back from the kernel.</summary>
    public static int Option(int fd, int level, int name)
    {
        int value = 0, length = sizeof(int);
        if (GetSocketOption(fd, level, name, ref value, ref length) != 0)
        {
            throw new InvalidOperationException($"getsockopt({level}, {name}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        return value;
    }

    /// <summary>How many pipe descriptors this process holds open.</summary>
    public static int OpenPipes() => Directory.EnumerateFileSystemEntries("/proc/self/fd").Count(entry =>
    {
        try
        {
            return new FileInfo(entry).LinkTarget?.StartsWith("pipe:", StringComparison.Ordinal) == true;
        }
        catch (IOException)
        {
            return false;
        }
    });

    private static string? InodeOf(int localPort, int remotePort)
    {
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (PortOf(fields[1]) == localPort && PortOf(fields[2]) == remotePort && fields[3] == "01")
                {
                    return fields[9];
                }
            }
        }
        return null;
    }

    private static int PortOf(string address) => int.Parse(address[(address.IndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
