using System.Diagnostics;
using System.Net;
using System.Text;

namespace Bench;

/// <summary>One way to reach the upstream: direct, through nginx, or through the gateway.</summary>
public sealed record Target(string Name, IPEndPoint EndPoint, string Path, int[] Pids)
{
    public Task<WsConnection> ConnectAsync() => WsConnection.ConnectAsync(EndPoint, Path);
}

/// <summary>The measurements themselves. Every one runs on connections that are already open and warm.</summary>
public static class Measure
{
    public static byte[] Command(long id, string method = "Runtime.evaluate", string @params = "{\"expression\":\"1+1\"}") =>
        Encoding.UTF8.GetBytes($"{{\"id\":{id},\"method\":\"{method}\",\"params\":{@params}}}");

    /// <summary>
    /// A click as a Playwright-style client sends it: find and check the element (library calls), then move, press and
    /// release the mouse (three reported commands), then a last check. Three of seven messages are control commands.
    /// </summary>
    public static byte[][] Click() =>
    [
        Command(1, "Runtime.callFunctionOn", "{\"functionDeclaration\":\"function(){return this.isConnected}\",\"objectId\":\"1.2.3\",\"returnByValue\":true}"),
        Command(2, "DOM.getContentQuads", "{\"objectId\":\"1.2.3\"}"),
        Command(3, "Runtime.callFunctionOn", "{\"functionDeclaration\":\"function(x,y){return document.elementFromPoint(x,y)===this}\",\"objectId\":\"1.2.3\",\"arguments\":[{\"value\":100},{\"value\":200}]}"),
        Command(4, ControlMethod, "{\"type\":\"mouseMoved\",\"x\":100,\"y\":200,\"button\":\"none\"}"),
        Command(5, ControlMethod, "{\"type\":\"mousePressed\",\"x\":100,\"y\":200,\"button\":\"left\",\"clickCount\":1}"),
        Command(6, ControlMethod, "{\"type\":\"mouseReleased\",\"x\":100,\"y\":200,\"button\":\"left\",\"clickCount\":1}"),
        Command(7, "Runtime.evaluate", "{\"expression\":\"document.readyState\"}"),
    ];

    public const string ControlMethod = "Input.dispatchMouseEvent";
    public const string ControlParams = "{\"type\":\"mouseMoved\",\"x\":100,\"y\":200,\"button\":\"none\"}";

    /// <summary>Sequential round trips on one connection for <paramref name="seconds"/>; microseconds each.</summary>
    public static async Task<List<double>> RoundTripsAsync(Target target, double seconds, string method = "Runtime.evaluate", string @params = "{\"expression\":\"1+1\"}")
    {
        using var ws = await target.ConnectAsync();
        var samples = new List<double>(200_000);
        var message = Command(1, method, @params);
        // Warm the path (JIT, buffers) before sampling.
        for (int i = 0; i < 200; i++)
        {
            await ws.SendAsync(1, message);
            await ws.ReceiveAsync();
        }
        var end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        while (true)
        {
            long t0 = Stopwatch.GetTimestamp();
            if (t0 >= end)
            {
                break;
            }
            await ws.SendAsync(1, message);
            await ws.ReceiveAsync();
            samples.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
        }
        await ws.CloseAsync();
        return samples;
    }

    public sealed record RateResult(double PerSecond, double ProxyCpuMicrosPerOp);

    /// <summary>
    /// Closed-loop load: <paramref name="connections"/> connections, each with one command in flight.
    /// Also reports the proxy's CPU time per request (from /proc).
    /// </summary>
    public static Task<RateResult> RequestsPerSecondAsync(Target target, int connections, double seconds, byte[]? message = null) =>
        RequestsPerSecondAsync(target, connections, seconds, [message ?? Command(1)]);

    /// <summary>The same closed loop, each connection sending <paramref name="cycle"/>'s messages in turn.</summary>
    public static async Task<RateResult> RequestsPerSecondAsync(Target target, int connections, double seconds, byte[][] cycle)
    {
        var load = await ClosedLoad.StartAsync(target, connections, cycle);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(0.5, seconds / 4)));
            var counted = await load.CountAsync(seconds);
            return new RateResult(counted.Ops / counted.Seconds,
                target.Pids.Length == 0 ? double.NaN : counted.ProxyCpuSeconds * 1e6 / counted.Ops);
        }
        finally
        {
            await load.StopAsync();
        }
    }

    /// <summary>
    /// One window of <see cref="ToggledRatesAsync"/>: the setting it ran with, the round trips completed, its length and
    /// the proxy's CPU time in it (in ticks of 10 ms, so only sums over many windows are meaningful).
    /// </summary>
    public sealed record ToggledWindow(bool Enabled, long Ops, double Seconds, double ProxyCpuSeconds)
    {
        public double PerSecond => Ops / Seconds;
    }

    /// <summary>
    /// One closed loop at <paramref name="connections"/> connections that runs throughout, while
    /// <paramref name="setEnabled"/> switches a setting in the order on, off, off, on, on, off, ... (so a steady drift
    /// of the machine's speed falls on both settings alike). After each switch the loop settles for
    /// <paramref name="settleSeconds"/> uncounted, then is counted for <paramref name="windowSeconds"/>. Windows 2k
    /// and 2k+1 form a pair: neighbours in time, no connection set-up between them.
    /// </summary>
    public static async Task<List<ToggledWindow>> ToggledRatesAsync(Target target, int connections, int windows,
        double windowSeconds, double settleSeconds, byte[][] cycle, Func<bool, Task<bool>> setEnabled)
    {
        var load = await ClosedLoad.StartAsync(target, connections, cycle);
        var result = new List<ToggledWindow>(windows);
        try
        {
            for (int w = 0; w < windows; w++)
            {
                bool enabled = (w + 1) / 2 % 2 == 0; // on, off, off, on, on, off, off, on, ...
                if (!await setEnabled(enabled))
                {
                    throw new InvalidOperationException("the setting was not accepted");
                }
                await Task.Delay(TimeSpan.FromSeconds(settleSeconds));
                var counted = await load.CountAsync(windowSeconds);
                result.Add(new ToggledWindow(enabled, counted.Ops, counted.Seconds, counted.ProxyCpuSeconds));
            }
        }
        finally
        {
            await load.StopAsync();
        }
        return result;
    }

    /// <summary>
    /// Connections that each send a message and wait for its answer, over and over, until stopped; counted without
    /// a lock (one counter per connection, each on a cache line of its own).
    /// </summary>
    private sealed class ClosedLoad
    {
        private readonly Target _target;
        private readonly WsConnection[] _sockets;
        private readonly long[] _counts;
        private readonly Task[] _loops;
        private bool _stop;

        private ClosedLoad(Target target, WsConnection[] sockets, byte[][] cycle)
        {
            _target = target;
            _sockets = sockets;
            _counts = new long[sockets.Length * 16];
            _loops = new Task[sockets.Length];
            for (int i = 0; i < sockets.Length; i++)
            {
                int slot = i * 16;
                var ws = sockets[i];
                _loops[i] = Task.Run(async () =>
                {
                    int next = 0;
                    while (!Volatile.Read(ref _stop))
                    {
                        await ws.SendAsync(1, cycle[next]);
                        next = next + 1 == cycle.Length ? 0 : next + 1;
                        await ws.ReceiveAsync();
                        _counts[slot]++;
                    }
                });
            }
        }

        public static async Task<ClosedLoad> StartAsync(Target target, int connections, byte[][] cycle)
        {
            var sockets = new WsConnection[connections];
            for (int i = 0; i < connections; i++)
            {
                sockets[i] = await target.ConnectAsync();
            }
            return new ClosedLoad(target, sockets, cycle);
        }

        /// <summary>Round trips completed in the next <paramref name="seconds"/>, the time taken and the proxy's CPU.</summary>
        public async Task<(long Ops, double Seconds, double ProxyCpuSeconds)> CountAsync(double seconds)
        {
            long before = Completed();
            double cpuBefore = Proc.CpuSeconds(_target.Pids);
            long t0 = Stopwatch.GetTimestamp();
            await Task.Delay(TimeSpan.FromSeconds(seconds));
            long after = Completed();
            double cpuAfter = Proc.CpuSeconds(_target.Pids);
            return (after - before, Stopwatch.GetElapsedTime(t0).TotalSeconds, cpuAfter - cpuBefore);
        }

        public async Task StopAsync()
        {
            Volatile.Write(ref _stop, true);
            await Task.WhenAll(_loops);
            foreach (var ws in _sockets)
            {
                await ws.CloseAsync();
                ws.Dispose();
            }
        }

        private long Completed()
        {
            long s = 0;
            for (int i = 0; i < _counts.Length; i += 16)
            {
                s += Volatile.Read(ref _counts[i]);
            }
            return s;
        }
    }

    /// <summary>
    /// Bulk transfer of <paramref name="size"/>-byte messages, one at a time on one connection.
    /// up: client sends the message, upstream answers "k"; down: client asks, upstream sends it. MB/s (10^6 bytes).
    /// </summary>
    public static async Task<double> MegabytesPerSecondAsync(Target target, int size, bool up, double seconds)
    {
        using var ws = await target.ConnectAsync();
        var payload = up ? new byte[size] : Encoding.ASCII.GetBytes("G" + size);
        if (up)
        {
            new Random(2).NextBytes(payload);
            payload[0] = (byte)'P';
        }
        async Task OneAsync()
        {
            await ws.SendAsync(2, payload);
            var (_, reply) = await ws.ReceiveAsync();
            if (!up && reply.Length != size)
            {
                throw new IOException($"expected {size} bytes, got {reply.Length}");
            }
        }
        await OneAsync();
        await OneAsync();
        long bytes = 0;
        int count = 0;
        long t0 = Stopwatch.GetTimestamp();
        var end = t0 + (long)(seconds * Stopwatch.Frequency);
        while (count < 3 || Stopwatch.GetTimestamp() < end)
        {
            await OneAsync();
            bytes += size;
            count++;
        }
        double elapsed = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        await ws.CloseAsync();
        return bytes / elapsed / 1e6;
    }

    /// <param name="ProxyUserMicrosPerConnection">The user-space part of <paramref name="ProxyCpuMicrosPerConnection"/> (the rest is the kernel's).</param>
    public sealed record ConnResult(double PerSecond, int Completed, int Failed, double ProxyCpuMicrosPerConnection, double ProxyUserMicrosPerConnection);

    /// <summary>
    /// Whole connection lifecycles per second with <paramref name="parallel"/> loops: open, one command
    /// round trip, close handshake (client first), socket closed.
    /// </summary>
    public static async Task<ConnResult> ConnectionsPerSecondAsync(Target target, int parallel, double seconds)
    {
        var message = Command(1);
        int completed = 0, failed = 0;
        var end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        var cpuBefore = Proc.UserAndSystemSeconds(target.Pids);
        long t0 = Stopwatch.GetTimestamp();
        var loops = Enumerable.Range(0, parallel).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                try
                {
                    using var ws = await target.ConnectAsync();
                    await ws.SendAsync(1, message);
                    await ws.ReceiveAsync();
                    await ws.CloseAsync();
                    Interlocked.Increment(ref completed);
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref failed);
                    await Task.Delay(10);
                }
            }
        })).ToArray();
        await Task.WhenAll(loops);
        double elapsed = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        var cpuAfter = Proc.UserAndSystemSeconds(target.Pids);
        double PerConnection(double seconds) => target.Pids.Length == 0 || completed == 0 ? double.NaN : seconds * 1e6 / completed;
        return new ConnResult(completed / elapsed, completed, failed,
            PerConnection(cpuAfter.Total - cpuBefore.Total), PerConnection(cpuAfter.User - cpuBefore.User));
    }

    public sealed record IdleResult(double KibPerConnection, double RssBeforeMib, double RssAfterMib, double ProbeP50, double ProbeP99, int Opened, double OpenSeconds,
        double BaselineP99);

    /// <summary>
    /// Opens <paramref name="count"/> connections (each does one round trip, so both legs exist), lets the
    /// proxy settle, and takes the proxy's RSS delta per connection; then probes latency with them open.
    /// </summary>
    public static async Task<IdleResult> IdleAsync(Target target, int count, double probeSeconds)
    {
        await Task.Delay(1000);
        // The same probe with nothing else open, just before: the p99 the idle connections are held against, taken
        // in the same minute (a p99 from minutes earlier differs by ±20 µs on this kind of machine).
        var baseline = await RoundTripsAsync(target, probeSeconds);
        double before = Proc.RssKib(target.Pids);
        var sockets = new WsConnection?[count];
        var message = Command(1);
        int next = -1;
        long t0 = Stopwatch.GetTimestamp();
        var openers = Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                for (int attempt = 0; ; attempt++)
                {
                    try
                    {
                        var ws = await target.ConnectAsync();
                        await ws.SendAsync(1, message);
                        await ws.ReceiveAsync();
                        sockets[i] = ws;
                        break;
                    }
                    catch (Exception) when (attempt < 3)
                    {
                        await Task.Delay(50);
                    }
                    catch (Exception)
                    {
                        break;
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(openers);
        double openSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        int opened = sockets.Count(s => s is not null);
        await Task.Delay(2500);
        double after = Proc.RssKib(target.Pids);
        var probe = await RoundTripsAsync(target, probeSeconds);
        foreach (var ws in sockets)
        {
            ws?.Dispose();
        }
        // Let the proxy take its connections down before the next measurement.
        await Proc.WaitUntilQuietAsync(target.Pids, TimeSpan.FromSeconds(60));
        return new IdleResult((after - before) / Math.Max(1, opened), before / 1024, after / 1024,
            Stats.Percentile(probe, 50), Stats.Percentile(probe, 99), opened, openSeconds, Stats.Percentile(baseline, 99));
    }
}

public static class Proc
{
    private static readonly double TicksPerSecond = 100.0;

    public static double RssKib(int[] pids)
    {
        double total = 0;
        foreach (var pid in pids)
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        total += double.Parse(line[6..].Trim().Split(' ')[0]);
                    }
                }
            }
            catch (IOException)
            {
            }
        }
        return total;
    }

    /// <summary>Waits until the processes use under 5 % of a core over half a second (or the limit passes).</summary>
    public static async Task WaitUntilQuietAsync(int[] pids, TimeSpan limit)
    {
        var sw = Stopwatch.StartNew();
        await Task.Delay(500);
        while (sw.Elapsed < limit)
        {
            double c0 = CpuSeconds(pids);
            await Task.Delay(500);
            if (CpuSeconds(pids) - c0 < 0.025)
            {
                return;
            }
        }
    }

    public static double CpuSeconds(int[] pids) => UserAndSystemSeconds(pids).Total;

    /// <summary>
    /// CPU seconds so far of a process's threads named <paramref name="prefix"/>… and of all its other threads (from
    /// /proc/PID/task/TID/stat; a thread that ended takes its time with it, so only long-lived threads split exactly).
    /// </summary>
    public static (double Named, double Other) ThreadCpuSeconds(int pid, string prefix)
    {
        double named = 0, other = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
                var comm = stat[(open + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');
                double seconds = (double.Parse(fields[11]) + double.Parse(fields[12])) / TicksPerSecond;
                if (comm.StartsWith(prefix, StringComparison.Ordinal))
                {
                    named += seconds;
                }
                else
                {
                    other += seconds;
                }
            }
            catch (IOException)
            {
            }
        }
        return (named, other);
    }

    /// <summary>User-space and kernel CPU seconds of the processes so far (utime and stime of /proc/PID/stat).</summary>
    public static (double User, double System, double Total) UserAndSystemSeconds(int[] pids)
    {
        double user = 0, system = 0;
        foreach (var pid in pids)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // fields[0] is state (field 3); utime is field 14, stime field 15.
                user += double.Parse(fields[11]) / TicksPerSecond;
                system += double.Parse(fields[12]) / TicksPerSecond;
            }
            catch (IOException)
            {
            }
        }
        return (user, system, user + system);
    }
}

public static class Stats
{
    public static double Percentile(List<double> samples, double p)
    {
        if (samples.Count == 0)
        {
            return double.NaN;
        }
        var sorted = samples.ToArray();
        Array.Sort(sorted);
        var rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank);
        int hi = Math.Min(sorted.Length - 1, lo + 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static double Median(IEnumerable<double> values)
    {
        var list = values.Where(v => !double.IsNaN(v)).ToList();
        return list.Count == 0 ? double.NaN : Percentile(list, 50);
    }
}
