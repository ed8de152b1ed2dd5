using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Chaos;

/// <summary>The real gateway process, and what the run reads from it (API, /proc).</summary>
public sealed class Gateway : IAsyncDisposable
{
    public required Process Process { get; init; }
    public required int CdpPort { get; init; }
    public required int ApiPort { get; init; }
    public required string EventsFile { get; init; }
    public required HttpClient Http { get; init; }

    public int Pid => Process.Id;

    [DllImport("libc", SetLastError = true)]
    public static extern int kill(int pid, int sig);

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static Gateway Start(string dll, string dir, TimeSpan confirmWait)
    {
        var cdp = FreePort();
        var api = FreePort();
        var events = Path.Combine(dir, "events.jsonl");
        // The gateway appends: a file left by an earlier run in the same directory would be read as this run's.
        File.Delete(events);
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[]
                 {
                     dll, "--bind", "127.0.0.1", "--cdp-port", cdp.ToString(), "--api-port", api.ToString(),
                     "--chromium", "/usr/bin/chromium", "--data-dir", Path.Combine(dir, "data"), "--events-file", events,
                     "--max-message-bytes", "1048576", "--restart-confirm-wait", $"{(int)confirmWait.TotalMilliseconds}ms",
                     "--log-level", "warning",
                 })
        {
            psi.ArgumentList.Add(a);
        }
        var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the gateway");
        var log = new StreamWriter(Path.Combine(dir, "gateway.log")) { AutoFlush = true };
        var gate = new object();
        p.OutputDataReceived += (_, e) => { if (e.Data != null) { lock (gate) { log.WriteLine(e.Data); } } };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) { lock (gate) { log.WriteLine(e.Data); } } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return new Gateway
        {
            Process = p,
            CdpPort = cdp,
            ApiPort = api,
            EventsFile = events,
            Http = NewClient(api),
        };
    }

    /// <summary>No keep-alive: a pooled connection would hold a descriptor in the gateway and spoil the leak check.</summary>
    public static HttpClient NewClient(int port)
    {
        var c = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };
        c.DefaultRequestHeaders.ConnectionClose = true;
        return c;
    }

    public async Task<JsonElement?> ChromiumAsync(CancellationToken ct)
    {
        try
        {
            var s = await Http.GetStringAsync("chromium", ct);
            return JsonDocument.Parse(s).RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    public async Task WaitReadyAsync(TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        while (DateTime.UtcNow < until)
        {
            if (Process.HasExited)
            {
                throw new InvalidOperationException($"the gateway exited with {Process.ExitCode} (see gateway.log)");
            }
            var c = await ChromiumAsync(CancellationToken.None);
            if (c is { } j && j.TryGetProperty("state", out var st) && st.GetString() == "ready")
            {
                return;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("the gateway's Chromium was not ready within " + within);
    }

    public async Task<double?> MetricAsync(string name)
    {
        try
        {
            var text = await Http.GetStringAsync("metrics");
            foreach (var line in text.Split('\n'))
            {
                // An unlabelled series may be written with empty braces (the exporter writes `name{} 0`).
                foreach (var head in new[] { name + " ", name + "{} " })
                {
                    if (line.StartsWith(head, StringComparison.Ordinal))
                    {
                        return double.Parse(line[head.Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }
        }
        catch (HttpRequestException)
        {
        }
        return null;
    }

    /// <summary>What each descriptor is (socket:[inode], pipe:[inode], anon_inode:[eventpoll], a path).</summary>
    public List<string> DescriptorLinks()
    {
        var links = new List<string>();
        foreach (var f in Directory.GetFiles($"/proc/{Pid}/fd"))
        {
            try
            {
                links.Add(new FileInfo(f).LinkTarget ?? "?");
            }
            catch (IOException)
            {
            }
        }
        return links;
    }

    /// <summary>
    /// Open descriptors but the runtime's assemblies: an assembly first used under chaos (an exception's stack trace,
    /// a rarely taken path) stays mapped for the process's life, which is no leak.
    /// </summary>
    public int Descriptors() => DescriptorLinks().Count(l => !l.EndsWith(".dll", StringComparison.Ordinal));

    public long StatusField(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return -1;
    }

    public int Threads() => (int)StatusField("Threads");

    public long RssKiB() => StatusField("VmRSS");

    public async Task<HttpResponseMessage?> SendAsync(HttpMethod method, string path, string? json, CancellationToken ct)
    {
        try
        {
            using var req = new HttpRequestMessage(method, path);
            if (json != null)
            {
                req.Content = new StringContent(json, Encoding.UTF8, "application/json");
            }
            return await Http.SendAsync(req, ct);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            await Process.WaitForExitAsync();
        }
        Http.Dispose();
    }
}
