using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CdpGateway.Tests.Support;

/// <summary>
/// A real <c>nats-server</c> (Debian's package) with JetStream on, on 127.0.0.1 and a free port, its store in a temp
/// dir. It can be killed and started again on the same port and store (NATS went away and came back), or with its
/// store wiped (a server that lost its data).
/// </summary>
public sealed class NatsServerProcess : IAsyncDisposable
{
    private static readonly string[] Candidates = ["/usr/sbin/nats-server", "/usr/bin/nats-server"];

    private readonly string[] _extraArgs;
    private Process? _process;
    private string? _configFile;

    private NatsServerProcess(int port, string storeDir, string[] extraArgs)
    {
        Port = port;
        StoreDir = storeDir;
        _extraArgs = extraArgs;
    }

    public int Port { get; }

    public string StoreDir { get; }

    public string Url => $"nats://127.0.0.1:{Port}";

    public bool Running => _process is { HasExited: false };

    /// <summary>The binary, or null when the package is not installed.</summary>
    public static string? Binary => Candidates.FirstOrDefault(File.Exists);

    /// <summary>Starts a server; <paramref name="extraArgs"/> adds options (<c>--auth TOKEN</c>).</summary>
    public static async Task<NatsServerProcess> StartAsync(params string[] extraArgs)
    {
        var store = Path.Combine(Path.GetTempPath(), "cdpgw-nats-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(store);
        var server = new NatsServerProcess(FreePort(), store, extraArgs);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>
    /// Starts a server with a configuration file holding <paramref name="config"/> (<c>-c FILE</c>: an
    /// <c>authorization</c> block, say); address, port and JetStream store still come from the command line, which
    /// overrides the file.
    /// </summary>
    public static async Task<NatsServerProcess> StartWithConfigAsync(string config, params string[] extraArgs)
    {
        var file = Path.Combine(Path.GetTempPath(), "cdpgw-nats-" + Guid.NewGuid().ToString("N") + ".conf");
        await File.WriteAllTextAsync(file, config);
        try
        {
            var server = await StartAsync(["-c", file, .. extraArgs]);
            server._configFile = file;
            return server;
        }
        catch
        {
            File.Delete(file);
            throw;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the server (again) on the same port and store; returns once it accepts connections.</summary>
    public async Task StartAgainAsync()
    {
        var binary = Binary ?? throw new InvalidOperationException("nats-server is not installed (apt-get install -y nats-server)");
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-js", "-sd", StoreDir }.Concat(_extraArgs))
        {
            info.ArgumentList.Add(arg);
        }
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Eventually.TrueAsync(async () =>
        {
            if (_process.HasExited)
            {
                Assert.Fail($"nats-server exited with {_process.ExitCode} at start");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, $"nats-server accepting on port {Port}");
    }

    /// <summary>SIGKILL: the server vanishes without a goodbye, as a crash or a lost host would.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        _process?.Dispose();
        _process = null;
    }

    /// <summary>Empties the store dir (the server must be stopped): its streams and messages are gone.</summary>
    public void WipeStore()
    {
        Directory.Delete(StoreDir, recursive: true);
        Directory.CreateDirectory(StoreDir);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        try
        {
            Directory.Delete(StoreDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        if (_configFile is not null)
        {
            File.Delete(_configFile);
        }
    }
}
