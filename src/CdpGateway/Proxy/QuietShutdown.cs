using System.Net.Sockets;

namespace CdpGateway.Proxy;

/// <summary>How a leg is aborted: its socket shut down both ways, so a pending read sees the end of the stream.</summary>
internal static class QuietShutdown
{
    /// <summary>Shuts both directions down; a socket already reset or disposed has nothing left to end.</summary>
    public static void ShutDownQuietly(this Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset or closed.
        }
    }
}
