using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bench;

// The load client and the round scheduler. bench/run starts the upstream, nginx and the gateway, then:
//   load --mode micro|chromium --direct H:P --nginx H:P --gateway H:P --path /devtools/... \
//        --nginx-pids a,b --gateway-pid N --api http://127.0.0.1:Q --out FILE [--quick] [--rounds N]
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var opts = new Dictionary<string, string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--quick")
    {
        opts["quick"] = "1";
    }
    else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
    {
        opts[args[i][2..]] = args[++i];
    }
}
string Opt(string name, string? fallback = null) => opts.TryGetValue(name, out var v) ? v : fallback ?? throw new ArgumentException("missing --" + name);
IPEndPoint Ep(string s) => IPEndPoint.Parse(s);
int[] Pids(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();

bool quick = opts.ContainsKey("quick");
string mode = Opt("mode", "micro");
int rounds = int.Parse(Opt("rounds", quick ? "2" : "3"));
double secs = double.Parse(Opt("seconds", quick ? "1" : "3"));
string path = Opt("path");
var direct = new Target("direct", Ep(Opt("direct")), path, Pids(Opt("upstream-pid", "")));
var nginx = new Target("nginx", Ep(Opt("nginx")), path, Pids(Opt("nginx-pids")));
var gateway = new Target("gateway", Ep(Opt("gateway")), path, Pids(Opt("gateway-pid")));
var api = Opt("api");
var only = Opt("only", "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
var http = new HttpClient { BaseAddress = new Uri(api), Timeout = TimeSpan.FromSeconds(10) };
var figures = new List<JsonObject>();
var notes = new List<string>();
if (opts.TryGetValue("nats-cpus", out var natsCpus))
{
    notes.Add($"nats-server ran on CPUs {natsCpus}; the upstream, nginx, the gateway and this load client on CPUs {opts["other-cpus"]} (--nats-cpus: a NATS server on a host of its own)");
}
var started = Stopwatch.StartNew();

void Log(string text) => Console.Error.WriteLine($"[{started.Elapsed.TotalSeconds,6:F1}s] {text}");

// The order of the three paths turns every round, so none always runs first (or right after another).
IEnumerable<Target> Order(int round, params Target[] targets) =>
    Enumerable.Range(0, targets.Length).Select(i => targets[(i + round) % targets.Length]);

void Add(string id, string title, string unit, string better, double gw, double ng, double di, string? target = null, JsonObject? extra = null, bool? met = null)
{
    var f = new JsonObject
    {
        ["id"] = id,
        ["figure"] = title,
        ["unit"] = unit,
        ["better"] = better,
        ["gateway"] = Num(gw),
        ["nginx"] = Num(ng),
        ["direct"] = Num(di),
        ["gateway_over_nginx"] = Num(ng == 0 || double.IsNaN(ng) || double.IsNaN(gw) ? double.NaN : gw / ng),
    };
    if (target is not null)
    {
        f["target"] = target;
    }
    if (extra is not null)
    {
        f["detail"] = extra;
    }
    if (met is not null)
    {
        f["met"] = met;
    }
    figures.Add(f);
    Log($"{title}: gateway {Fmt(gw)}, nginx {Fmt(ng)}, direct {Fmt(di)} {unit}");
}

// The pairs of one run spread over tens of percent on a shared VM, with a long tail (a window that caught a stall of the
// box), so a cost figure comes with the standard error of its median from 2,000 bootstrap resamples of the pairs (a
// fixed seed, so the same pairs give the same figure): a figure within it of the target is not a verdict either way.
JsonObject PairCosts(string figure, List<double> ratios, JsonObject? extra = null)
{
    var costs = ratios.Select(v => (1 - v) * 100).ToList();
    double standardError = BootstrapMedianError(costs);
    Log($"{figure}: {(1 - Stats.Median(ratios)) * 100:F2} % +- {standardError:F2} (standard error of the median of {costs.Count} pairs)");
    var detail = extra ?? new JsonObject();
    detail["pair_costs_percent"] = string.Join(" ", costs.Select(c => c.ToString("F1")));
    detail["median_standard_error_percent"] = Num(standardError);
    return detail;
}
static double BootstrapMedianError(List<double> values)
{
    if (values.Count < 2)
    {
        return double.NaN;
    }
    var random = new Random(1);
    var resample = new double[values.Count];
    var medians = new double[2000];
    for (int b = 0; b < medians.Length; b++)
    {
        for (int i = 0; i < resample.Length; i++)
        {
            resample[i] = values[random.Next(values.Count)];
        }
        medians[b] = Stats.Median(resample);
    }
    double mean = medians.Average();
    return Math.Sqrt(medians.Sum(m => (m - mean) * (m - mean)) / (medians.Length - 1));
}
static JsonNode? Num(double v) => double.IsNaN(v) || double.IsInfinity(v) ? null : JsonValue.Create(Math.Round(v, 3));
static string Fmt(double v) => double.IsNaN(v) ? "-" : v >= 1000 ? v.ToString("N0") : v >= 100 ? v.ToString("F0") : v >= 10 ? v.ToString("F1") : v.ToString("F2");
bool Want(string id) => only.Count == 0 || only.Contains(id);

async Task<long> TelemetrySeqAsync()
{
    var status = await http.GetFromJsonAsync<JsonObject>("/telemetry");
    return status!["seq"]!.GetValue<long>();
}

// --nats: the gateway ships its telemetry to a nats-server; the telemetry figure also reports what the sink shipped.
bool nats = opts.ContainsKey("nats");
int natsPid = int.Parse(Opt("nats-pid", "0"), CultureInfo.InvariantCulture);

// One counter of the gateway's /metrics (Prometheus text), summed over its label sets; 0 when it is not there.
async Task<double> MetricAsync(string name)
{
    var text = await http.GetStringAsync("/metrics");
    double sum = 0;
    foreach (var line in text.Split('\n'))
    {
        if (line.StartsWith(name, StringComparison.Ordinal) && line.Length > name.Length && line[name.Length] is ' ' or '{')
        {
            sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }
    }
    return sum;
}

async Task<bool> SetControlTelemetryAsync(bool enabled)
{
    var body = new StringContent($"{{\"control\":{{\"enabled\":{(enabled ? "true" : "false")}}}}}", Encoding.UTF8, "application/json");
    using var response = await http.PatchAsync("/telemetry", body);
    return response.IsSuccessStatusCode;
}

// Single pairs swing by ±10-25 % on a shared 2-core box and the target is a few percent, so a full run takes many short
// pairs rather than a few long ones: 24 pairs of 1 s each (the median of 8 pairs of 3 s moved between 4.7 and 10.6 %
// from run to run; of 30 pairs of 1 s, between 5.2 and 6.1 %). --pairs and --seconds override either.
int telemetryPairs = int.Parse(Opt("pairs", (quick ? rounds : Math.Max(rounds, 24)).ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
double telemetrySecs = opts.ContainsKey("seconds") || quick ? secs : 1;

// The switched-window telemetry figure (--only toggle): seconds of load in all, and each window's counted and settling parts.
double toggleSeconds = double.Parse(Opt("toggle-seconds", quick ? "10" : "120"), CultureInfo.InvariantCulture);
const double ToggleWindow = 0.3;
const double ToggleSettle = 0.03;
// The switched-window figure's warm-up: blocks of this many windows until one compiles fewer methods than this.
const int JitQuietWindows = 20;
const double JitQuietMethods = 10;

// One round's telemetry pair on the gateway: on and off back to back at 16 connections (which goes first alternates
// with the round), so both share the machine's state of the moment. Accepted is false if a PATCH was refused.
async Task<(Measure.RateResult On, Measure.RateResult Off, bool Accepted)> TelemetryPairAsync(string what, int round, byte[][] cycle)
{
    Measure.RateResult? on = null, off = null;
    bool accepted = true;
    foreach (bool enabled in round % 2 == 0 ? new[] { true, false } : new[] { false, true })
    {
        Log($"{what} at 16 connections, round {round + 1}/{telemetryPairs}, gateway, control telemetry {(enabled ? "on" : "off")}");
        accepted &= await SetControlTelemetryAsync(enabled);
        var result = await Measure.RequestsPerSecondAsync(gateway, 16, telemetrySecs, cycle);
        if (enabled)
        {
            on = result;
        }
        else
        {
            off = result;
        }
    }
    await SetControlTelemetryAsync(true);
    return (on!, off!, accepted);
}

// The lower-noise form of the telemetry cost: one load that never stops, with control telemetry switched every window
// (on, off, off, on, ...). Each pair is two neighbouring windows a third of a second apart, with no connection set-up
// between them, so the shared box's drift (what spreads separate 1 s rounds over tens of percent) mostly cancels, and a
// minute gives hundreds of pairs.
async Task ToggledTelemetryCostAsync(string id, string what, string costWhat)
{
    byte[][] control = [Measure.Command(1, Measure.ControlMethod, Measure.ControlParams)];
    int windows = 2 * (int)Math.Max(1, toggleSeconds / (2 * (ToggleWindow + ToggleSettle)));
    // Switched, uncounted, until the gateway's JIT has gone quiet (fewer than JitQuietMethods methods compiled over a
    // block of JitQuietWindows windows, in this load client too), for at least a quarter of the counted time (at most
    // 15 s) and at most as long as the counted time (30 s at least): while the runtime still compiles the switch's HTTP
    // path and the telemetry paths (a profile of a Chromium run found a third of the gateway's CPU in the JIT during early
    // windows), that is noise on one side of a pair or the other, and not what a gateway up for minutes costs.
    int warmWindows = 2 * (int)Math.Max(1, Math.Min(toggleSeconds / 4, 15) / (2 * (ToggleWindow + ToggleSettle)));
    var warmClock = Stopwatch.StartNew();
    await Measure.ToggledRatesAsync(gateway, 16, warmWindows, ToggleWindow, ToggleSettle, control, SetControlTelemetryAsync);
    double jitBefore = await MetricAsync("dotnet_jit_compiled_methods_total");
    long ownJitBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
    double jitLastBlock = double.NaN;
    double jitWarmMaxSeconds = Math.Max(30, toggleSeconds);
    while (warmClock.Elapsed.TotalSeconds < jitWarmMaxSeconds)
    {
        await Measure.ToggledRatesAsync(gateway, 16, JitQuietWindows, ToggleWindow, ToggleSettle, control, SetControlTelemetryAsync);
        double jitNow = await MetricAsync("dotnet_jit_compiled_methods_total");
        long ownJitNow = System.Runtime.JitInfo.GetCompiledMethodCount();
        jitLastBlock = jitNow - jitBefore + (ownJitNow - ownJitBefore);
        jitBefore = jitNow;
        ownJitBefore = ownJitNow;
        if (jitLastBlock < JitQuietMethods)
        {
            break;
        }
    }
    double warmSeconds = warmClock.Elapsed.TotalSeconds;
    Log($"switched windows uncounted for {warmSeconds:F0} s; the last {JitQuietWindows} compiled {jitLastBlock:F0} methods (gateway and load client), then {windows} counted");
    long seq0 = await TelemetrySeqAsync();
    var w = await Measure.ToggledRatesAsync(gateway, 16, windows, ToggleWindow, ToggleSettle, control, SetControlTelemetryAsync);
    await SetControlTelemetryAsync(true);
    long events = await TelemetrySeqAsync() - seq0;
    var pairRatios = new List<double>();
    for (int i = 0; i + 1 < w.Count; i += 2)
    {
        var on = w[i].Enabled ? w[i] : w[i + 1];
        var off = w[i].Enabled ? w[i + 1] : w[i];
        pairRatios.Add(on.PerSecond / off.PerSecond);
    }
    var onWindows = w.Where(x => x.Enabled).ToList();
    var offWindows = w.Where(x => !x.Enabled).ToList();
    double Rate(List<Measure.ToggledWindow> ws) => ws.Sum(x => x.Ops) / ws.Sum(x => x.Seconds);
    double Cpu(List<Measure.ToggledWindow> ws) => ws.Sum(x => x.ProxyCpuSeconds) * 1e6 / ws.Sum(x => x.Ops);
    double cost = (1 - Stats.Median(pairRatios)) * 100;
    double pooled = (1 - Rate(onWindows) / Rate(offWindows)) * 100;
    Add(id + "_on", what + ", telemetry on (switched windows)", "req/s", "higher", Rate(onWindows), double.NaN, double.NaN);
    Add(id + "_off", what + ", telemetry off (switched windows)", "req/s", "higher", Rate(offWindows), double.NaN, double.NaN);
    Add(id + "_cost", costWhat, "%", "lower", cost, double.NaN, double.NaN, "gateway < 5 %",
        PairCosts("telemetry cost, switched windows", pairRatios, new JsonObject
        {
            ["window_seconds"] = ToggleWindow,
            ["settle_seconds"] = ToggleSettle,
            ["warm_up_seconds"] = Num(warmSeconds),
            ["methods_compiled_in_last_warm_up_block"] = Num(jitLastBlock),
            ["pooled_cost_percent"] = Num(pooled),
            ["cpu_per_command_on_us"] = Num(Cpu(onWindows)),
            ["cpu_per_command_off_us"] = Num(Cpu(offWindows)),
            ["events_published"] = events,
            ["commands_in_on_windows"] = onWindows.Sum(x => x.Ops),
            ["window_rates"] = string.Join(" ", w.Select(x => (x.Enabled ? "+" : "-") + x.PerSecond.ToString("F0"))),
        }),
        cost < 5);
    Log($"switched windows: pooled cost {pooled:F2} %, gateway CPU per command {Cpu(onWindows):F1} us on, {Cpu(offWindows):F1} us off, {events} events");
}

if (mode == "chromium")
{
    await RunChromiumAsync();
}
else
{
    await RunMicroAsync();
}

var machine = Machine.Describe();
var result = new JsonObject
{
    ["mode"] = mode,
    ["quick"] = quick,
    ["rounds"] = rounds,
    ["seconds_per_measurement"] = secs,
    ["telemetry_pairs"] = telemetryPairs,
    ["telemetry_seconds_per_measurement"] = telemetrySecs,
    ["date_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    ["machine"] = machine,
    ["figures"] = new JsonArray(figures.Select(f => (JsonNode)f).ToArray()),
    ["notes"] = new JsonArray(notes.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray()),
    ["elapsed_seconds"] = Math.Round(started.Elapsed.TotalSeconds, 1),
};
var outFile = Opt("out");
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
File.WriteAllText(outFile, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
Console.WriteLine(Table.Render(result));
return 0;

async Task RunMicroAsync()
{
    var three = new[] { gateway, nginx, direct };
    Log("warming up every path");
    foreach (var t in three)
    {
        // Long enough for the runtime's tiered compilation to finish on every measured path (16 and 64 connections,
        // reported commands with control telemetry on, the gateway's default): a profile of a 1 s warm-up still
        // showed 11 % of the gateway's CPU in the JIT during the first measured round.
        await Measure.RoundTripsAsync(t, quick ? 0.5 : 1.5);
        await Measure.RequestsPerSecondAsync(t, 16, quick ? 0.5 : 2);
        await Measure.RequestsPerSecondAsync(t, 64, quick ? 0.5 : 2);
        await Measure.RequestsPerSecondAsync(t, 16, quick ? 0.5 : 2, Measure.Click());
        await Measure.MegabytesPerSecondAsync(t, 1 << 20, true, 0.3);
        await Measure.MegabytesPerSecondAsync(t, 1 << 20, false, 0.3);
        // Connection set-up and teardown too, so the first conns round does not pay for the JIT.
        await Measure.ConnectionsPerSecondAsync(t, 4, quick ? 0.3 : 1);
    }

    if (Want("rtt"))
    {
        var samples = three.ToDictionary(t => t.Name, _ => new List<double>());
        for (int r = 0; r < rounds; r++)
        {
            foreach (var t in Order(r, three))
            {
                Log($"round trips, round {r + 1}/{rounds}, {t.Name}");
                samples[t.Name].AddRange(await Measure.RoundTripsAsync(t, secs));
            }
        }
        double P(string n, double p) => Stats.Percentile(samples[n], p);
        Add("rtt_p50", "small-message round trip p50, 1 connection", "µs", "lower", P("gateway", 50), P("nginx", 50), P("direct", 50));
        Add("rtt_p99", "small-message round trip p99, 1 connection", "µs", "lower", P("gateway", 99), P("nginx", 99), P("direct", 99));
        double d = P("direct", 50);
        Add("rtt_added_p50", "added p50 latency over direct", "µs", "lower", P("gateway", 50) - d, P("nginx", 50) - d, 0,
            "gateway <= nginx",
            new JsonObject { ["samples"] = new JsonObject { ["gateway"] = samples["gateway"].Count, ["nginx"] = samples["nginx"].Count, ["direct"] = samples["direct"].Count } });
    }

    foreach (var conns in new[] { 16, 64 })
    {
        if (!Want($"rps{conns}"))
        {
            continue;
        }
        var rates = three.ToDictionary(t => t.Name, _ => new List<Measure.RateResult>());
        for (int r = 0; r < rounds; r++)
        {
            foreach (var t in Order(r, three))
            {
                Log($"requests/s at {conns} connections, round {r + 1}/{rounds}, {t.Name}");
                rates[t.Name].Add(await Measure.RequestsPerSecondAsync(t, conns, secs));
            }
        }
        double M(string n) => Stats.Median(rates[n].Select(x => x.PerSecond));
        double C(string n) => Stats.Median(rates[n].Select(x => x.ProxyCpuMicrosPerOp));
        Add($"rps{conns}", $"requests/s, {conns} connections", "req/s", "higher", M("gateway"), M("nginx"), M("direct"), "gateway >= nginx",
            new JsonObject { ["rounds"] = new JsonObject { ["gateway"] = string.Join(" ", rates["gateway"].Select(x => x.PerSecond.ToString("F0"))), ["nginx"] = string.Join(" ", rates["nginx"].Select(x => x.PerSecond.ToString("F0"))), ["direct"] = string.Join(" ", rates["direct"].Select(x => x.PerSecond.ToString("F0"))) } });
        Add($"cpu_per_req{conns}", $"proxy CPU µs per request, {conns} connections", "µs", "lower", C("gateway"), C("nginx"), C("direct"),
            null, new JsonObject { ["note"] = "the proxy process(es) user+system CPU over the window / requests; direct = the upstream's own" });
    }

    foreach (var (size, label) in new[] { (1 << 20, "1 MiB"), (16 << 20, "16 MiB") })
    {
        foreach (var up in new[] { true, false })
        {
            var id = $"mbps_{(size >> 20)}m_{(up ? "up" : "down")}";
            if (!Want(id) && !Want("mbps"))
            {
                continue;
            }
            var values = three.ToDictionary(t => t.Name, _ => new List<double>());
            for (int r = 0; r < rounds; r++)
            {
                foreach (var t in Order(r, three))
                {
                    Log($"{label} {(up ? "client->upstream" : "upstream->client")}, round {r + 1}/{rounds}, {t.Name}");
                    values[t.Name].Add(await Measure.MegabytesPerSecondAsync(t, size, up, Math.Max(0.5, secs * 2 / 3)));
                }
            }
            Add(id, $"MB/s, {label} messages, {(up ? "client -> upstream" : "upstream -> client")}", "MB/s", "higher",
                Stats.Median(values["gateway"]), Stats.Median(values["nginx"]), Stats.Median(values["direct"]), "gateway >= nginx");
        }
    }

    if (Want("conns"))
    {
        var rates = three.ToDictionary(t => t.Name, _ => new List<double>());
        var cpu = three.ToDictionary(t => t.Name, _ => new List<double>());
        var userCpu = three.ToDictionary(t => t.Name, _ => new List<double>());
        long expectedEvents = 0, seenEvents = 0;
        int failed = 0;
        for (int r = 0; r < rounds; r++)
        {
            foreach (var t in Order(r, three))
            {
                Log($"connections/s, round {r + 1}/{rounds}, {t.Name}");
                long seq0 = t == gateway ? await TelemetrySeqAsync() : 0;
                var res = await Measure.ConnectionsPerSecondAsync(t, 4, secs);
                failed += res.Failed;
                rates[t.Name].Add(res.PerSecond);
                cpu[t.Name].Add(res.ProxyCpuMicrosPerConnection);
                userCpu[t.Name].Add(res.ProxyUserMicrosPerConnection);
                if (t == gateway)
                {
                    await Task.Delay(1000);
                    expectedEvents += 2L * (res.Completed + res.Failed);
                    seenEvents += await TelemetrySeqAsync() - seq0;
                }
                await Task.Delay(500);
            }
        }
        Add("conns_per_s", "connections opened+closed per second (4 loops)", "conn/s", "higher",
            Stats.Median(rates["gateway"]), Stats.Median(rates["nginx"]), Stats.Median(rates["direct"]), null,
            new JsonObject { ["gateway_events_seen"] = seenEvents, ["gateway_events_expected_at_least"] = expectedEvents - 2L * failed, ["failed_connections_all_paths"] = failed });
        Add("cpu_per_conn", "proxy CPU µs per connection opened+closed", "µs", "lower",
            Stats.Median(cpu["gateway"]), Stats.Median(cpu["nginx"]), Stats.Median(cpu["direct"]), null,
            new JsonObject { ["note"] = "the proxy process(es) user+system CPU over the window / connections; direct = the upstream's own" });
        Add("user_cpu_per_conn", "of which user space (the rest is the kernel's)", "µs", "lower",
            Stats.Median(userCpu["gateway"]), Stats.Median(userCpu["nginx"]), Stats.Median(userCpu["direct"]));
    }

    if (Want("telemetry"))
    {
        // On and off run back to back in every round (which goes first alternates), so each pair shares the machine's
        // state of the moment; the cost is the median of the pairs' ratios. A ratio of medians taken over rounds far
        // apart in time mostly measures how the load of the shared box drifted between them.
        byte[][] control = [Measure.Command(1, Measure.ControlMethod, Measure.ControlParams)];
        byte[][] clicks = Measure.Click();
        var mixOn = new List<double>();
        var mixOff = new List<double>();
        var mixRatios = new List<double>();
        var on = new List<double>();
        var off = new List<double>();
        var ratios = new List<double>();
        var ng = new List<double>();
        var di = new List<double>();
        var cpuOn = new List<double>();
        var cpuOff = new List<double>();
        bool toggled = true;
        var natsClock = Stopwatch.StartNew();
        // Where the gateway's CPU goes over the whole figure: its relay threads (cdp-relay-N) and everything else (the
        // telemetry pipeline, and with --nats the sink), per event the stream produced; and nats-server's own.
        var threads0 = Proc.ThreadCpuSeconds(gateway.Pids[0], "cdp-relay");
        double natsServer0 = natsPid > 0 ? Proc.CpuSeconds([natsPid]) : 0;
        long pipelineSeq0 = await TelemetrySeqAsync();
        double shipped0 = nats ? await MetricAsync("cdp_gateway_nats_published_total") : 0;
        double spooled0 = nats ? await MetricAsync("cdp_gateway_nats_spooled_total") : 0;
        long natsSeq0 = nats ? await TelemetrySeqAsync() : 0;
        for (int r = 0; r < telemetryPairs; r++)
        {
            ratios.Add(await PairAsync(r, "control commands", control, on, off, cpuOn, cpuOff));
            mixRatios.Add(await PairAsync(r, "clicks (3 of 7 messages control commands)", clicks, mixOn, mixOff, null, null));
            if (r < Math.Max(1, rounds / 3))
            {
                // nginx and direct only give the on/off figures their context: a few rounds suffice.
                foreach (var t in Order(r, nginx, direct))
                {
                    Log($"control commands at 16 connections, round {r + 1}/{telemetryPairs}, {t.Name}");
                    var res = await Measure.RequestsPerSecondAsync(t, 16, telemetrySecs, control);
                    (t == nginx ? ng : di).Add(res.PerSecond);
                }
            }
        }

        // One round's pair, recorded; returns on/off.
        async Task<double> PairAsync(int round, string what, byte[][] cycle, List<double> onRates, List<double> offRates,
            List<double>? onCpu, List<double>? offCpu)
        {
            var (pairOn, pairOff, accepted) = await TelemetryPairAsync(what, round, cycle);
            toggled &= accepted;
            onRates.Add(pairOn.PerSecond);
            offRates.Add(pairOff.PerSecond);
            onCpu?.Add(pairOn.ProxyCpuMicrosPerOp);
            offCpu?.Add(pairOff.ProxyCpuMicrosPerOp);
            return pairOn.PerSecond / pairOff.PerSecond;
        }

        var threads1 = Proc.ThreadCpuSeconds(gateway.Pids[0], "cdp-relay");
        long pipelineEvents = await TelemetrySeqAsync() - pipelineSeq0;
        double outsideRelay = (threads1.Other - threads0.Other) * 1e6 / Math.Max(1, pipelineEvents);
        Log($"gateway CPU outside the relay threads: {outsideRelay:F2} µs per telemetry event ({pipelineEvents} events); relay threads {threads1.Named - threads0.Named:F1} s");
        Add("telemetry_cpu_outside_relay", "gateway CPU outside the relay threads per telemetry event (pipeline" + (nats ? " and NATS sink)" : ")"), "µs", "lower",
            outsideRelay, double.NaN, double.NaN, null, new JsonObject
            {
                ["events"] = pipelineEvents,
                ["relay_threads_cpu_seconds"] = Math.Round(threads1.Named - threads0.Named, 2),
                ["other_threads_cpu_seconds"] = Math.Round(threads1.Other - threads0.Other, 2),
            });
        if (natsPid > 0)
        {
            double natsServerCpu = (Proc.CpuSeconds([natsPid]) - natsServer0) * 1e6 / Math.Max(1, pipelineEvents);
            Add("nats_server_cpu_per_event", "nats-server CPU per telemetry event (JetStream, file store, same machine)", "µs", "lower",
                natsServerCpu, double.NaN, double.NaN);
        }
        if (nats)
        {
            // Over the whole telemetry figure (on and off rounds alike): what the sink shipped against what the stream
            // produced; what it could not keep up with went to the spool.
            double seconds = natsClock.Elapsed.TotalSeconds;
            double shipped = await MetricAsync("cdp_gateway_nats_published_total") - shipped0;
            double spooled = await MetricAsync("cdp_gateway_nats_spooled_total") - spooled0;
            long produced = await TelemetrySeqAsync() - natsSeq0;
            Log($"NATS: {shipped:F0} events shipped in {seconds:F1} s ({shipped / seconds:F0}/s), {produced} produced, {spooled:F0} spooled");
            Add("nats_shipped", "telemetry events/s the NATS sink shipped (acknowledged) during the telemetry figure", "events/s", "higher",
                shipped / seconds, double.NaN, double.NaN, null, new JsonObject
                {
                    ["seconds"] = Math.Round(seconds, 2),
                    ["events_shipped"] = shipped,
                    ["events_produced"] = produced,
                    ["events_spooled"] = spooled,
                });
            Add("nats_produced", "telemetry events/s the gateway produced in the same time", "events/s", "higher", produced / seconds, double.NaN, double.NaN);
            Add("nats_spooled", "events the NATS sink spooled to disk in the same time (it did not keep up)", "events", "lower", spooled, double.NaN, double.NaN);
        }
        if (!toggled)
        {
            notes.Add("PATCH /telemetry was not accepted: the telemetry on/off figures are the same configuration twice");
        }
        double mOn = Stats.Median(on), mOff = Stats.Median(off);
        Add("telemetry_on", "control commands/s, 16 connections, control telemetry on", "req/s", "higher", mOn, Stats.Median(ng), Stats.Median(di));
        Add("telemetry_off", "control commands/s, 16 connections, control telemetry off", "req/s", "higher", mOff, Stats.Median(ng), Stats.Median(di));
        double cost = (1 - Stats.Median(ratios)) * 100;
        Add("telemetry_cost", "telemetry cost: 1 - median of paired on/off rounds (gateway)", "%", "lower", cost, double.NaN, double.NaN, "gateway < 5 %",
            PairCosts("telemetry cost", ratios, new JsonObject
            {
                ["on_rounds"] = string.Join(" ", on.Select(v => v.ToString("F0"))),
                ["off_rounds"] = string.Join(" ", off.Select(v => v.ToString("F0"))),
            }),
            cost < 5);
        double mixCost = (1 - Stats.Median(mixRatios)) * 100;
        Add("telemetry_mix_on", "messages/s, clicks (3 of 7 control commands), 16 connections, telemetry on", "req/s", "higher", Stats.Median(mixOn), double.NaN, double.NaN);
        Add("telemetry_mix_off", "messages/s, clicks (3 of 7 control commands), 16 connections, telemetry off", "req/s", "higher", Stats.Median(mixOff), double.NaN, double.NaN);
        Add("telemetry_mix_cost", "telemetry cost on clicks: 1 - median of paired rounds (gateway)", "%", "lower", mixCost, double.NaN, double.NaN, "gateway < 5 %",
            PairCosts("telemetry cost on clicks", mixRatios), mixCost < 5);
        // Throughput on a shared 2-core box swings by 10-30 % between rounds; the gateway's own CPU time per command
        // moves less, so it shows what telemetry adds even when the throughput ratio is lost in noise.
        double cOn = Stats.Median(cpuOn), cOff = Stats.Median(cpuOff);
        Add("telemetry_cpu_on", "gateway CPU per control command, telemetry on", "µs", "lower", cOn, double.NaN, double.NaN);
        Add("telemetry_cpu_off", "gateway CPU per control command, telemetry off", "µs", "lower", cOff, double.NaN, double.NaN, null,
            new JsonObject { ["on_rounds"] = string.Join(" ", cpuOn.Select(v => v.ToString("F1"))), ["off_rounds"] = string.Join(" ", cpuOff.Select(v => v.ToString("F1"))) });
    }
    if (Want("toggle"))
    {
        await ToggledTelemetryCostAsync("telemetry_toggled", "control commands/s, 16 connections, one load", "telemetry cost: 1 - median of neighbouring on/off windows of one load (gateway)");
    }
    if (Want("idle"))
    {
        // Last, so tearing 10,000 connections down disturbs no other figure. A proxied connection costs the
        // proxy two descriptors, so the count is capped by this process's hard descriptor limit (the same for all).
        long hard = Machine.HardNoFile();
        foreach (var requested in quick ? new[] { 1000 } : new[] { 1000, 10000 })
        {
            int n = (int)Math.Min(requested, (hard - 300) / 2);
            if (n < requested)
            {
                notes.Add($"idle {requested}: the hard RLIMIT_NOFILE here is {hard} and cannot be raised (no CAP_SYS_RESOURCE), a proxied connection needs two descriptors in the proxy, so {n} connections were held instead of {requested}");
            }
            var results = new Dictionary<string, Measure.IdleResult>();
            foreach (var t in Order(requested == 1000 ? 0 : 1, gateway, nginx))
            {
                Log($"idle x{n} through {t.Name}");
                results[t.Name] = await Measure.IdleAsync(t, n, quick ? 1 : 2);
            }
            var g = results["gateway"];
            var x = results["nginx"];
            Add($"idle_kib_{requested}", $"resident KiB per idle connection, {n:N0} open", "KiB", "lower", g.KibPerConnection, x.KibPerConnection, double.NaN,
                "gateway <= 32 KiB",
                new JsonObject
                {
                    ["connections"] = n,
                    ["gateway_rss_mib_before_after"] = $"{g.RssBeforeMib:F1} -> {g.RssAfterMib:F1}",
                    ["nginx_rss_mib_before_after"] = $"{x.RssBeforeMib:F1} -> {x.RssAfterMib:F1}",
                    ["gateway_opened"] = g.Opened,
                    ["nginx_opened"] = x.Opened,
                    ["gateway_open_seconds"] = Math.Round(g.OpenSeconds, 2),
                    ["nginx_open_seconds"] = Math.Round(x.OpenSeconds, 2),
                });
            // "Its normal p99": the same probe through the gateway with no idle connections, just before they were opened.
            double normalP99 = g.BaselineP99;
            double rttP99 = figures.FirstOrDefault(f => (string?)f["id"] == "rtt_p99")?["gateway"]?.GetValue<double>() ?? double.NaN;
            Add($"idle_p99_{requested}", $"round trip p99 with {n:N0} idle open", "µs", "lower", g.ProbeP99, x.ProbeP99, double.NaN,
                $"gateway <= its p99 without them ({normalP99:F0} µs)",
                new JsonObject
                {
                    ["gateway_p50"] = Num(g.ProbeP50),
                    ["nginx_p50"] = Num(x.ProbeP50),
                    ["gateway_p99_without"] = Num(normalP99),
                    ["nginx_p99_without"] = Num(x.BaselineP99),
                    ["gateway_rtt_section_p99"] = Num(rttP99),
                },
                g.ProbeP99 <= normalP99);
        }
    }

}

async Task RunChromiumAsync()
{
    var three = new[] { gateway, nginx, direct };
    const string Eval = "{\"expression\":\"1+1\",\"returnByValue\":true}";
    Log("preparing the page (viewport 1920x1080, a noisy canvas so PNGs are large)");
    using (var setup = await direct.ConnectAsync())
    {
        int id = 100;
        async Task Call(string method, string p)
        {
            await setup.SendAsync(1, Measure.Command(++id, method, p));
            while (true)
            {
                var (_, reply) = await setup.ReceiveAsync();
                if (Encoding.UTF8.GetString(reply.Span).StartsWith($"{{\"id\":{id},", StringComparison.Ordinal))
                {
                    return;
                }
            }
        }
        await Call("Emulation.setDeviceMetricsOverride", "{\"width\":1920,\"height\":1080,\"deviceScaleFactor\":1,\"mobile\":false}");
        var script = "document.body.style.margin=0;const c=document.createElement('canvas');c.width=1920;c.height=1080;document.body.appendChild(c);" +
            "const x=c.getContext('2d');const d=x.createImageData(1920,1080);for(let i=0;i<d.data.length;i++)d.data[i]=(Math.random()*256)|0;x.putImageData(d,0,0);1";
        await Call("Runtime.evaluate", JsonSerializer.Serialize(new { expression = script, returnByValue = true }));
    }
    foreach (var t in three)
    {
        await Measure.RoundTripsAsync(t, quick ? 0.5 : 1, "Runtime.evaluate", Eval);
    }
    var samples = three.ToDictionary(t => t.Name, _ => new List<double>());
    for (int r = 0; r < rounds; r++)
    {
        foreach (var t in Order(r, three))
        {
            Log($"Runtime.evaluate round trips, round {r + 1}/{rounds}, {t.Name}");
            samples[t.Name].AddRange(await Measure.RoundTripsAsync(t, secs, "Runtime.evaluate", Eval));
        }
    }
    double P(string n, double p) => Stats.Percentile(samples[n], p);
    Add("chromium_eval_p50", "Chromium Runtime.evaluate round trip p50", "µs", "lower", P("gateway", 50), P("nginx", 50), P("direct", 50));
    Add("chromium_eval_p99", "Chromium Runtime.evaluate round trip p99", "µs", "lower", P("gateway", 99), P("nginx", 99), P("direct", 99));
    Add("chromium_eval_added_p50", "Chromium: added p50 latency over direct", "µs", "lower", P("gateway", 50) - P("direct", 50), P("nginx", 50) - P("direct", 50), 0, "gateway <= nginx");

    var mbps = three.ToDictionary(t => t.Name, _ => new List<double>());
    var shots = three.ToDictionary(t => t.Name, _ => new List<double>());
    long shotBytes = 0;
    for (int r = 0; r < rounds; r++)
    {
        foreach (var t in Order(r, three))
        {
            Log($"Page.captureScreenshot, round {r + 1}/{rounds}, {t.Name}");
            using var ws = await t.ConnectAsync();
            var cmd = Measure.Command(7, "Page.captureScreenshot", "{\"format\":\"png\"}");
            await ws.SendAsync(1, cmd);
            await ws.ReceiveAsync();
            long bytes = 0;
            int n = 0;
            var sw = Stopwatch.StartNew();
            while (n < 3 || sw.Elapsed.TotalSeconds < secs * 2)
            {
                await ws.SendAsync(1, cmd);
                var (_, reply) = await ws.ReceiveAsync();
                bytes += reply.Length;
                shotBytes = reply.Length;
                n++;
            }
            mbps[t.Name].Add(bytes / sw.Elapsed.TotalSeconds / 1e6);
            shots[t.Name].Add(n / sw.Elapsed.TotalSeconds);
            await ws.CloseAsync();
        }
    }
    Add("chromium_screenshot_mbps", "Chromium Page.captureScreenshot MB/s (1920x1080 PNG)", "MB/s", "higher",
        Stats.Median(mbps["gateway"]), Stats.Median(mbps["nginx"]), Stats.Median(mbps["direct"]), "gateway >= nginx",
        new JsonObject { ["reply_bytes"] = shotBytes });
    Add("chromium_screenshot_per_s", "Chromium screenshots per second", "shot/s", "higher",
        Stats.Median(shots["gateway"]), Stats.Median(shots["nginx"]), Stats.Median(shots["direct"]));

    // Telemetry's cost where a browser is behind the gateway: 16 connections sending Input.dispatchMouseEvent to the
    // page as fast as Chromium answers, control telemetry on and off back to back in each pair (as in the stand-in
    // run, whose figure is the worst case: there the gateway itself is the bottleneck).
    byte[][] mouse = [Measure.Command(1, Measure.ControlMethod, Measure.ControlParams)];
    await Measure.RequestsPerSecondAsync(gateway, 16, quick ? 0.5 : 2, mouse);
    var onRates = new List<double>();
    var offRates = new List<double>();
    var pairRatios = new List<double>();
    bool accepted = true;
    for (int r = 0; r < telemetryPairs; r++)
    {
        var (pairOn, pairOff, ok) = await TelemetryPairAsync("Input.dispatchMouseEvent", r, mouse);
        accepted &= ok;
        onRates.Add(pairOn.PerSecond);
        offRates.Add(pairOff.PerSecond);
        pairRatios.Add(pairOn.PerSecond / pairOff.PerSecond);
    }
    if (!accepted)
    {
        notes.Add("PATCH /telemetry was not accepted: the Chromium telemetry figures are the same configuration twice");
    }
    double chromiumCost = (1 - Stats.Median(pairRatios)) * 100;
    Add("chromium_telemetry_cost", $"Chromium: telemetry cost, Input.dispatchMouseEvent at 16 connections ({Stats.Median(offRates):F0}/s off): 1 - median of paired on/off rounds",
        "%", "lower", chromiumCost, double.NaN, double.NaN, "gateway < 5 %",
        PairCosts("Chromium telemetry cost", pairRatios, new JsonObject
        {
            ["on_rounds"] = string.Join(" ", onRates.Select(v => v.ToString("F0"))),
            ["off_rounds"] = string.Join(" ", offRates.Select(v => v.ToString("F0"))),
        }),
        chromiumCost < 5);
    // The same with less noise: one load, control telemetry switched every window.
    await ToggledTelemetryCostAsync("chromium_telemetry_toggled", "Chromium: Input.dispatchMouseEvent/s, 16 connections, one load",
        "Chromium: telemetry cost, 1 - median of neighbouring on/off windows of one load (gateway)");
}
