using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// The gateway's settings are its options and CDPGW_ variables, nothing else: a file in the directory it was started
/// from changes nothing, and it puts no file watcher on that directory's tree (which would wake it for every file
/// written under it, and from "/" would try to watch the whole file system).
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class WorkingDirectoryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AppsettingsInTheWorkingDirectory_OpensNoPort_AndNoDirectoryIsWatched()
    {
        var cwd = Directory.CreateTempSubdirectory("cdpgw-cwd-").FullName;
        try
        {
            for (int i = 0; i < 20; i++)
            {
                Directory.CreateDirectory(Path.Combine(cwd, "tree", "level-" + i));
            }
            int planted = FreePort();
            // What an attacker (or a stray file) would try: another listener, on every interface.
            var url = "http://0.0.0.0:" + planted;
            File.WriteAllText(Path.Combine(cwd, "appsettings.json"),
                "{\"Kestrel\":{\"Endpoints\":{\"Planted\":{\"Url\":\"" + url + "\"}}},\"urls\":\"" + url + "\"}");

            await using var gateway = Start(output, _ => [], workingDirectory: cwd);
            await gateway.WaitForApiAsync();

            Assert.False(Listening(planted), $"the gateway listens on port {planted}, which only the planted appsettings.json named");
            Assert.Equal(0, InotifyWatches(gateway.Pid));
        }
        finally
        {
            Directory.Delete(cwd, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool Listening(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Directories the process watches: one "inotify wd:" line per watch in the fdinfo of its inotify descriptors.</summary>
    private static int InotifyWatches(int pid)
    {
        int watches = 0;
        foreach (var fd in Directory.GetFiles($"/proc/{pid}/fd"))
        {
            string? target = null;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
            }
            if (target is not null && target.Contains("inotify", StringComparison.Ordinal))
            {
                watches += File.ReadLines($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}").Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
            }
        }
        return watches;
    }
}
