using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Chaos;

// The chaos run: the real gateway and Chromium, clients that end in every way, a driver that breaks the browser,
// then checks of the events file against what the clients saw. Exit 1 on any mismatch.
string? dll = null, outDir = null;
double minutes = 1;
int clients = 30;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--gateway": dll = args[++i]; break;
        case "--out": outDir = args[++i]; break;
        case "--minutes": minutes = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--clients": clients = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine("chaos: unknown option " + args[i]); return 2;
    }
}
if (dll == null || outDir == null)
{
    Console.Error.WriteLine("usage: Chaos --gateway DLL --out DIR [--minutes N] [--clients N]");
    return 2;
}
Directory.CreateDirectory(outDir);

// Short, so that most crashes resolve within the run and the timing window to judge them is narrow.
var confirmWait = TimeSpan.FromSeconds(3);
await using var gw = Gateway.Start(dll, outDir, confirmWait);
await gw.WaitReadyAsync(TimeSpan.FromSeconds(60));

var records = new ConcurrentBag<ConnRecord>();
var actions = new ConcurrentQueue<(long Us, string What)>();
var browserLog = new ConcurrentQueue<(long Us, long Generation, string Url, string State)>();
var refused = 0;
var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(minutes);
using var runCts = new CancellationTokenSource();
using var cdpHttp = Gateway.NewClient(gw.CdpPort);

async Task<string?> PageIdAsync()
{
    try
    {
        var list = await cdpHttp.GetFromJsonAsync<JsonElement>("json/list");
        foreach (var t in list.EnumerateArray())
        {
            if (t.GetProperty("type").GetString() == "page")
            {
                return t.GetProperty("id").GetString();
            }
        }
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
    {
    }
    return null;
}

TimeSpan Left() => deadline - DateTime.UtcNow;

async Task Sleep(Random rng, int minMs, int maxMs)
{
    var ms = Math.Min(rng.Next(minMs, maxMs), Math.Max(0, (int)Left().TotalMilliseconds));
    await Task.Delay(ms);
}

// Opens one connection and runs its opening commands; null when the upgrade failed (503 while no browser, etc.).
async Task<(CdpClient Client, string? Session)?> OpenAsync(ConnRecord rec, Random rng)
{
    var path = "devtools/browser/x";
    if (rng.Next(2) == 0 && await PageIdAsync() is { } page)
    {
        path = "devtools/page/" + page;
        rec.Target = "page";
    }
    var c = new CdpClient(rec, 0);
    try
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await c.ConnectAsync(new Uri($"ws://127.0.0.1:{gw.CdpPort}/{path}"), cts.Token);
    }
    catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or OperationCanceledException or IOException or HttpRequestException)
    {
        await c.DisposeAsync();
        return null;
    }
    // The tag: a reported method (cdp_command carries connection_id and our command id), harmless with a bogus target.
    await c.CallAsync("Target.activateTarget", "{\"targetId\":\"chaos\"}", null, TimeSpan.FromSeconds(3), rec.Tag);
    string? session = null;
    var targets = await c.CallAsync("Target.getTargets", "{}", null, TimeSpan.FromSeconds(3));
    // A pad of a length of its own (Chromium ignores an unknown parameter) makes the bytes this client sent nearly unique,
    // so a connection whose tag was not reported (control telemetry off) can still be told apart by bytes_from_client.
    await c.CallAsync("Browser.getVersion", $"{{\"pad\":\"{new string('p', (int)(rec.Tag % 1009))}\"}}", null, TimeSpan.FromSeconds(3));
    if (rec.Target == "browser")
    {
        string? pageId = null;
        if (targets is { } t && t.TryGetProperty("result", out var r) && r.TryGetProperty("targetInfos", out var infos))
        {
            foreach (var info in infos.EnumerateArray())
            {
                if (info.GetProperty("type").GetString() == "page")
                {
                    pageId = info.GetProperty("targetId").GetString();
                    break;
                }
            }
        }
        if (pageId != null)
        {
            var att = await c.CallAsync("Target.attachToTarget", $"{{\"targetId\":\"{pageId}\",\"flatten\":true}}", null, TimeSpan.FromSeconds(3));
            if (att is { } a && a.TryGetProperty("result", out var ar))
            {
                session = ar.GetProperty("sessionId").GetString();
            }
        }
        if (session != null)
        {
            await c.CallAsync("Runtime.evaluate", "{\"expression\":\"1+1\"}", session, TimeSpan.FromSeconds(3));
        }
    }
    else
    {
        await c.CallAsync("Runtime.evaluate", "{\"expression\":\"1+1\"}", null, TimeSpan.FromSeconds(3));
    }
    return (c, session);
}

async Task KeepBusyAsync(CdpClient c, Random rng, TimeSpan span)
{
    var until = DateTime.UtcNow + span;
    while (c.Open && DateTime.UtcNow < until && DateTime.UtcNow < deadline)
    {
        await c.CallAsync("Browser.getVersion", "{}", null, TimeSpan.FromSeconds(2));
        await Sleep(rng, 100, 800);
    }
}

async Task ClientLoopAsync(int index)
{
    var rng = new Random(1000 + index);
    var iteration = 0;
    while (DateTime.UtcNow < deadline)
    {
        var plan = (Plan)rng.Next(5);
        var rec = new ConnRecord { Client = index, Tag = 1_000_000_000L + index * 100_000L + iteration++, Plan = plan };
        var opened = await OpenAsync(rec, rng);
        if (opened is not { } o)
        {
            Interlocked.Increment(ref refused);
            await Sleep(rng, 200, 600);
            continue;
        }
        var c = o.Client;
        await KeepBusyAsync(c, rng, TimeSpan.FromMilliseconds(rng.Next(0, 3000)));
        if (c.Open && DateTime.UtcNow < deadline)
        {
            switch (plan)
            {
                case Plan.Close:
                    int[] codes = [1000, 1001, 3000 + rng.Next(1000), 4000 + rng.Next(1000)];
                    await c.CloseAsync(codes[rng.Next(codes.Length)]);
                    break;
                case Plan.Reset:
                    c.Reset();
                    break;
                case Plan.Oversize:
                    await c.OversizeAsync(1_500_000);
                    break;
                case Plan.SlowReader:
                    c.Pause();
                    // Answers of ~400 KB each, so that the paused reader's windows fill and a close frame queues behind them.
                    for (var k = 0; k < 8; k++)
                    {
                        var id = 500 + k;
                        var text = o.Session == null
                            ? $"{{\"id\":{id},\"method\":\"Runtime.evaluate\",\"params\":{{\"expression\":\"'x'.repeat(400000)\"}}}}"
                            : $"{{\"id\":{id},\"method\":\"Runtime.evaluate\",\"params\":{{\"expression\":\"'x'.repeat(400000)\"}},\"sessionId\":\"{o.Session}\"}}";
                        if (rec.Target == "browser" && o.Session == null)
                        {
                            break;
                        }
                        await c.TrySendAsync(System.Text.Encoding.UTF8.GetBytes(text));
                    }
                    await Task.Delay(rng.Next(2000, 8000));
                    c.Resume();
                    await KeepBusyAsync(c, rng, TimeSpan.FromMinutes(10));
                    break;
                case Plan.KeepRunning:
                    await KeepBusyAsync(c, rng, TimeSpan.FromMinutes(10));
                    break;
            }
        }
        // Whatever is still open at the deadline leaves with a plain close, so the leak check sees no client.
        if (c.Open)
        {
            if (!await c.WaitEndAsync(plan is Plan.Close or Plan.Oversize ? TimeSpan.FromSeconds(5) : TimeSpan.Zero))
            {
                await c.CloseAsync(1000);
            }
        }
        if (!await c.WaitEndAsync(TimeSpan.FromSeconds(8)))
        {
            rec.Error = (rec.Error ?? "") + " did not end within 8 s of its close; reset";
            c.Reset();
        }
        await c.DisposeAsync();
        records.Add(rec);
    }
}

async Task DriverAsync()
{
    var rng = new Random(7);
    string[][] flagSets = [["--lang=de"], ["--lang=en-US"], []];
    while (true)
    {
        await Sleep(rng, 1500, 6000);
        if (DateTime.UtcNow >= deadline)
        {
            return;
        }
        var pick = rng.Next(100);
        if (pick < 30)
        {
            var st = await gw.ChromiumAsync(CancellationToken.None);
            if (st is { } s && s.TryGetProperty("pid", out var p) && p.ValueKind == JsonValueKind.Number)
            {
                var pid = p.GetInt32();
                var rc = Gateway.kill(pid, 9);
                actions.Enqueue((CdpClient.NowUs(), $"SIGKILL chromium pid {pid} (gen {s.GetProperty("generation")}) rc={rc}"));
            }
        }
        else if (pick < 55)
        {
            var start = CdpClient.NowUs();
            using var r = await gw.SendAsync(HttpMethod.Post, "chromium/restart", null, CancellationToken.None);
            actions.Enqueue((start, $"POST /chromium/restart -> {(int?)r?.StatusCode}"));
        }
        else if (pick < 75)
        {
            var set = flagSets[rng.Next(flagSets.Length)];
            var start = CdpClient.NowUs();
            using var r = await gw.SendAsync(HttpMethod.Patch, "chromium/flags", JsonSerializer.Serialize(new { flags = set }), CancellationToken.None);
            actions.Enqueue((start, $"PATCH /chromium/flags [{string.Join(' ', set)}] -> {(int?)r?.StatusCode}"));
        }
        else
        {
            // Never the connection category: its events are what the checks read.
            bool control = rng.Next(2) == 0, system = rng.Next(2) == 0;
            var body = $"{{\"control\":{{\"enabled\":{(control ? "true" : "false")}}},\"system\":{{\"enabled\":{(system ? "true" : "false")}}}}}";
            using var r = await gw.SendAsync(HttpMethod.Patch, "telemetry", body, CancellationToken.None);
            actions.Enqueue((CdpClient.NowUs(), $"PATCH /telemetry control={control} system={system} -> {(int?)r?.StatusCode}"));
        }
    }
}

async Task PollerAsync(CancellationToken ct)
{
    while (!ct.IsCancellationRequested)
    {
        var st = await gw.ChromiumAsync(ct);
        if (st is { } s)
        {
            var gen = s.TryGetProperty("generation", out var g) && g.ValueKind == JsonValueKind.Number ? g.GetInt64() : -1;
            var url = s.TryGetProperty("devtools_url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString()! : "";
            var state = s.TryGetProperty("state", out var x) ? x.GetString() ?? "" : "";
            browserLog.Enqueue((CdpClient.NowUs(), gen, url, state));
        }
        try
        {
            await Task.Delay(100, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

// Idle means after a warm-up: the first connections start what the gateway keeps for its life (relay loops,
// the discovery client, the JIT's threads), which is no leak.
for (var w = 0; w < 3; w++)
{
    var warm = new ConnRecord { Client = -1, Tag = 3_000_000_000L + w, Plan = Plan.Close };
    if (await OpenAsync(warm, new Random(w)) is { } o)
    {
        await o.Client.CloseAsync(1000);
        await o.Client.WaitEndAsync(TimeSpan.FromSeconds(5));
        await o.Client.DisposeAsync();
        records.Add(warm);
    }
}
await Task.Delay(3000);
var fdIdle = gw.Descriptors();
var fdIdleLinks = gw.DescriptorLinks();
var threadsIdle = gw.Threads();
var rssStart = gw.RssKiB();
Console.WriteLine($"gateway pid {gw.Pid}, cdp :{gw.CdpPort}, api :{gw.ApiPort}; idle after warm-up: {fdIdle} fds, {threadsIdle} threads, {rssStart} KiB RSS");

// The soak's memory curve: the gateway's RSS, descriptors and threads every 10 s of the load phase.
var samples = new ConcurrentQueue<(double Minutes, long RssKiB, int Fds, int Threads)>();
var loadStart = DateTime.UtcNow;
async Task SamplerAsync(CancellationToken ct)
{
    while (!ct.IsCancellationRequested)
    {
        samples.Enqueue(((DateTime.UtcNow - loadStart).TotalMinutes, gw.RssKiB(), gw.Descriptors(), gw.Threads()));
        try
        {
            await Task.Delay(10_000, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
using var sampling = new CancellationTokenSource();
var sampler = SamplerAsync(sampling.Token);
var poller = PollerAsync(runCts.Token);
var loops = Enumerable.Range(0, clients).Select(i => Task.Run(() => ClientLoopAsync(i))).ToList();
loops.Add(DriverAsync());
await Task.WhenAll(loops);
sampling.Cancel();
await sampler;
Console.WriteLine($"load phase over: {records.Count} connections, {refused} refused upgrades, {actions.Count} driver actions");

// The clients have left: let the reasons resolve (confirm wait), then the gateway should be back to idle.
var settleUntil = DateTime.UtcNow + TimeSpan.FromSeconds(45);
double? open = null;
while (DateTime.UtcNow < settleUntil && (open = await gw.MetricAsync("cdp_gateway_connections_open")) != 0)
{
    await Task.Delay(250);
}
// The thread pool keeps idle workers for 20 s before they retire, and the gateway's discovery client keeps pooled
// connections to Chromium for its idle timeout (SocketsHttpHandler's default, 1 minute): wait those out rather than
// widen the margins.
settleUntil = DateTime.UtcNow + TimeSpan.FromSeconds(75);
const int FdMargin = 0, ThreadMargin = 2;
int fdAfter = gw.Descriptors(), threadsAfter = gw.Threads();
while (DateTime.UtcNow < settleUntil && (fdAfter > fdIdle + FdMargin || threadsAfter > threadsIdle + ThreadMargin))
{
    await Task.Delay(500);
    fdAfter = gw.Descriptors();
    threadsAfter = gw.Threads();
}
var rssAfter = gw.RssKiB();
var fdAfterLinks = gw.DescriptorLinks();

// Shutdown with clients still connected: all control telemetry back on, so these are tagged too.
using (await gw.SendAsync(HttpMethod.Patch, "telemetry", "{\"control\":{\"enabled\":true},\"system\":{\"enabled\":true}}", CancellationToken.None))
{
}
await gw.WaitReadyAsync(TimeSpan.FromSeconds(30));
deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
var keepers = new List<(CdpClient C, ConnRecord R)>();
for (var k = 0; k < Math.Min(10, clients); k++)
{
    var rec = new ConnRecord { Client = 10_000 + k, Tag = 2_000_000_000L + k, Plan = Plan.Shutdown };
    if (await OpenAsync(rec, new Random(k)) is { } o)
    {
        keepers.Add((o.Client, rec));
    }
}
var sigtermUs = CdpClient.NowUs();
Gateway.kill(gw.Pid, 15);
actions.Enqueue((sigtermUs, $"SIGTERM gateway with {keepers.Count} clients connected"));
foreach (var (c, rec) in keepers)
{
    if (!await c.WaitEndAsync(TimeSpan.FromSeconds(10)))
    {
        rec.Error = "still open 10 s after SIGTERM";
    }
    await c.DisposeAsync();
    records.Add(rec);
}
var exited = gw.Process.WaitForExit(TimeSpan.FromSeconds(30));
runCts.Cancel();
await poller;

var report = Checks.Run(new Checks.Input
{
    EventsFile = gw.EventsFile,
    Records = [.. records],
    Actions = [.. actions],
    BrowserLog = [.. browserLog],
    ConfirmWait = confirmWait,
    SigtermUs = sigtermUs,
});
var leaks = new List<string>();
if (open != 0)
{
    leaks.Add($"cdp_gateway_connections_open {open} after the clients left");
}
if (fdAfter > fdIdle + FdMargin)
{
    // Kinds only (socket, pipe, a path): inode numbers differ between any two snapshots.
    static Dictionary<string, int> Kinds(List<string> links) => links
        .GroupBy(l => System.Text.RegularExpressions.Regex.Replace(l, @"\[\d+\]", "")).ToDictionary(g => g.Key, g => g.Count());
    var idleKinds = Kinds(fdIdleLinks.Where(l => !l.EndsWith(".dll", StringComparison.Ordinal)).ToList());
    var afterKinds = Kinds(fdAfterLinks.Where(l => !l.EndsWith(".dll", StringComparison.Ordinal)).ToList());
    var diff = afterKinds.Keys.Union(idleKinds.Keys)
        .Select(k => (k, d: afterKinds.GetValueOrDefault(k) - idleKinds.GetValueOrDefault(k))).Where(x => x.d != 0)
        .Select(x => $"{x.k} {(x.d > 0 ? "+" : "")}{x.d}");
    leaks.Add($"descriptors {fdAfter} after vs {fdIdle} idle (margin {FdMargin}); by kind: {string.Join(", ", diff)}");
}
if (threadsAfter > threadsIdle + ThreadMargin)
{
    leaks.Add($"threads {threadsAfter} after vs {threadsIdle} idle (margin {ThreadMargin})");
}
if (!exited)
{
    leaks.Add("the gateway did not exit within 30 s of SIGTERM");
}
else if (gw.Process.ExitCode != 0)
{
    leaks.Add($"the gateway exited with {gw.Process.ExitCode} after SIGTERM");
}

var summary = new List<string>
{
    $"connections (client records): {records.Count}, refused upgrades: {refused}, driver actions: {actions.Count}",
    $"descriptors idle/after: {fdIdle}/{fdAfter} (margin {FdMargin}); threads idle/after: {threadsIdle}/{threadsAfter} (margin {ThreadMargin}); open after: {open}",
    $"gateway RSS start/after load: {rssStart}/{rssAfter} KiB",
    RssCurve([.. samples]),
};
summary.AddRange(report.Lines);
summary.AddRange(leaks.Select(l => "LEAK: " + l));
var failed = report.Mismatches > 0 || leaks.Count > 0;
summary.Add(failed ? $"FAIL: {report.Mismatches} mismatches, {leaks.Count} leak findings" : "PASS");
File.WriteAllLines(Path.Combine(outDir, "summary.txt"), summary);
File.WriteAllLines(Path.Combine(outDir, "driver.txt"), actions.OrderBy(a => a.Us).Select(a => $"{a.Us} {a.What}"));
File.WriteAllLines(Path.Combine(outDir, "browser.txt"), browserLog.Select(b => $"{b.Us} gen={b.Generation} state={b.State} {b.Url}"));
File.WriteAllText(Path.Combine(outDir, "clients.json"), JsonSerializer.Serialize(records.OrderBy(r => r.ConnectUs), new JsonSerializerOptions { WriteIndented = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } }));
File.WriteAllLines(Path.Combine(outDir, "rss.csv"), new[] { "minutes,rss_kib,fds,threads" }
    .Concat(samples.Select(x => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{x.Minutes:F2},{x.RssKiB},{x.Fds},{x.Threads}"))));
foreach (var l in summary)
{
    Console.WriteLine(l);
}
return failed ? 1 : 0;

// RSS at the first sample past 1, 10 and 30 minutes of load (those the run reached), and the last.
static string RssCurve(List<(double Minutes, long RssKiB, int Fds, int Threads)> samples)
{
    if (samples.Count == 0)
    {
        return "gateway RSS during the load: no samples";
    }
    var marks = new[] { 1.0, 5, 10, 20, 30, 60 }.Select(m => samples.FirstOrDefault(x => x.Minutes >= m)).Where(x => x.RssKiB > 0).Distinct()
        .Select(x => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{x.Minutes:F1} min {x.RssKiB / 1024.0:F1} MB"));
    var last = samples[^1];
    return string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"gateway RSS during the load (rss.csv, every 10 s): {(marks.Any() ? string.Join(", ", marks) + "; " : "")}last {last.Minutes:F1} min {last.RssKiB / 1024.0:F1} MB, max {samples.Max(x => x.RssKiB) / 1024.0:F1} MB");
}
