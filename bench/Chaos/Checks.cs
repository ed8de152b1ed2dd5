using System.Text.Json;

namespace Chaos;

/// <summary>Reads the events file and holds each connection's events against what its client did and saw.</summary>
public static class Checks
{
    public sealed class Input
    {
        public required string EventsFile { get; init; }
        public required List<ConnRecord> Records { get; init; }
        public required List<(long Us, string What)> Actions { get; init; }
        public required List<(long Us, long Generation, string Url, string State)> BrowserLog { get; init; }
        public required TimeSpan ConfirmWait { get; init; }
        public required long SigtermUs { get; init; }
    }

    public sealed class Report
    {
        public List<string> Lines { get; } = [];
        public int Mismatches { get; set; }
    }

    private sealed class Conn
    {
        public required string Id { get; init; }
        public long ConnectTs { get; set; }
        public string Target { get; set; } = "";
        public List<(long Ts, string Reason, int? CloseCode, double DurationMs)> Disconnects { get; } = [];
        public long BytesFromClient { get; set; } = -1;
        public int ClientPort { get; init; }
        public ConnRecord? Record { get; set; }
        public string How { get; set; } = "";
    }

    // A browser-side end is judged by when the browser's URL changed; the poll runs every 100 ms and an end is
    // seen by the client a little after the gateway pinned it, so changes this close to a window's edge are not judged.
    private const long EdgeUs = 400_000;

    public static Report Run(Input input)
    {
        var report = new Report();
        var conns = new Dictionary<string, Conn>();
        var tags = new Dictionary<long, string>();
        var seqs = new List<long>();
        var strays = new List<string>();
        foreach (var line in File.ReadLines(input.EventsFile))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            seqs.Add(root.GetProperty("seq").GetInt64());
            var ev = root.GetProperty("event");
            var type = ev.GetProperty("type").GetString();
            var ts = ev.GetProperty("ts").GetInt64();
            var data = ev.GetProperty("data");
            switch (type)
            {
                case "cdp_connect":
                {
                    var id = data.GetProperty("connection_id").GetString()!;
                    if (conns.ContainsKey(id))
                    {
                        strays.Add($"connection {id}: a second cdp_connect (seq {root.GetProperty("seq")})");
                        break;
                    }
                    var port = data.TryGetProperty("client_address", out var address) && address.GetString() is { } a
                        && System.Net.IPEndPoint.TryParse(a, out var endPoint) ? endPoint.Port : 0;
                    conns[id] = new Conn { Id = id, ConnectTs = ts, Target = data.GetProperty("target").GetString() ?? "", ClientPort = port };
                    break;
                }
                case "cdp_disconnect":
                {
                    var id = data.GetProperty("connection_id").GetString()!;
                    if (!conns.TryGetValue(id, out var c))
                    {
                        strays.Add($"connection {id}: cdp_disconnect without cdp_connect (seq {root.GetProperty("seq")})");
                        break;
                    }
                    var cc = data.GetProperty("close_code");
                    c.BytesFromClient = data.GetProperty("bytes_from_client").GetInt64();
                    c.Disconnects.Add((ts, data.GetProperty("reason").GetString() ?? "", cc.ValueKind == JsonValueKind.Number ? cc.GetInt32() : null,
                        data.GetProperty("duration_ms").GetDouble()));
                    break;
                }
                case "cdp_command":
                    if (data.TryGetProperty("method", out var m) && m.GetString() == "Target.activateTarget"
                        && data.TryGetProperty("command_id", out var cid) && cid.TryGetInt64(out var tag))
                    {
                        tags[tag] = data.GetProperty("connection_id").GetString()!;
                    }
                    break;
            }
        }

        seqs.Sort();
        var seqOk = seqs.Count > 0 && seqs[0] == 1 && seqs.Select((s, i) => s == i + 1).All(x => x);
        report.Lines.Add($"events: {seqs.Count}, seq 1..{(seqs.Count > 0 ? seqs[^1] : 0)} {(seqOk ? "without gaps" : "WITH GAPS OR DUPLICATES")}");
        var mismatches = new List<string>();
        var ambiguous = new List<string>();
        if (!seqOk)
        {
            mismatches.Add("seq does not run 1..N without gaps: " + Gaps(seqs));
        }
        mismatches.AddRange(strays);
        foreach (var c in conns.Values.Where(c => c.Disconnects.Count != 1))
        {
            mismatches.Add($"connection {c.Id}: {c.Disconnects.Count} cdp_disconnect events");
        }

        // Match: by the client's port in cdp_connect's client_address (a port comes back in use only after its
        // connection ended, so the cdp_connect nearest the client's 101 is its own), then by the tag command's id,
        // then the rest by time and target (reported as such).
        var matched = new HashSet<ConnRecord>();
        var byPort = conns.Values.Where(c => c.ClientPort != 0).ToLookup(c => c.ClientPort);
        foreach (var r in input.Records.Where(r => r.LocalPort != 0 && r.ConnectUs != 0))
        {
            var own = byPort[r.LocalPort].Where(c => c.Record == null && Math.Abs(c.ConnectTs - r.ConnectUs) < 2_000_000)
                .OrderBy(c => Math.Abs(c.ConnectTs - r.ConnectUs)).FirstOrDefault();
            if (own != null)
            {
                own.Record = r;
                own.How = "port";
                matched.Add(r);
            }
        }
        foreach (var r in input.Records.Where(r => !matched.Contains(r)))
        {
            if (tags.TryGetValue(r.Tag, out var id) && conns.TryGetValue(id, out var c) && c.Record == null)
            {
                c.Record = r;
                c.How = "tag";
                matched.Add(r);
            }
        }
        var byTime = 0;
        var unmatchedRecords = new List<ConnRecord>();
        // Time windows only for what neither the port nor the tag matched: few, so a scan over the connections is fine.
        var unclaimed = conns.Values.Where(c => c.Record == null).ToList();
        foreach (var r in input.Records.Where(r => !matched.Contains(r)).OrderBy(r => r.ConnectUs))
        {
            // cdp_connect is stamped around the 101 (either side of it by microseconds); the end is pinned no later than the client saw it. Among several
            // candidates the client's own byte count (its ids make it nearly unique) decides.
            var candidates = unclaimed.Where(c => c.Record == null && c.Target == r.Target
                && Math.Abs(r.ConnectUs - c.ConnectTs) < 500_000
                && c.Disconnects.Count > 0 && c.Disconnects[0].Ts >= r.ConnectUs - 500_000 && c.Disconnects[0].Ts <= r.EndUs + 1_000_000).ToList();
            if (candidates.Count > 1)
            {
                var sameBytes = candidates.Where(c => c.BytesFromClient == r.SentBytes).ToList();
                if (sameBytes.Count == 1)
                {
                    candidates = sameBytes;
                }
            }
            if (candidates.Count == 1)
            {
                candidates[0].Record = r;
                candidates[0].How = candidates[0].BytesFromClient == r.SentBytes ? "time+bytes" : "time";
                byTime++;
            }
            else
            {
                unmatchedRecords.Add(r);
                ambiguous.Add($"client {r.Client} tag {r.Tag} ({r.Plan}, {r.Target}, connected {r.ConnectUs}): {candidates.Count} candidate connections by time");
            }
        }
        var unaccounted = conns.Values.Where(c => c.Record == null).ToList();
        foreach (var c in unaccounted)
        {
            var line = $"connection {c.Id} ({c.Target}, connected {c.ConnectTs}, {Describe(c)}): no client record matched";
            (unmatchedRecords.Count == 0 ? mismatches : ambiguous).Add(line);
        }

        var byReason = new Dictionary<string, int>();
        var codeAgree = 0;
        var codeJudged = 0;
        foreach (var c in conns.Values.Where(c => c.Record != null && c.Disconnects.Count == 1))
        {
            var r = c.Record!;
            var (ts, reason, closeCode, _) = c.Disconnects[0];
            byReason[reason] = byReason.GetValueOrDefault(reason) + 1;
            var (expected, why, sure) = Expect(r, input, ts);
            var context = $"connection {c.Id} [{c.How}] client {r.Client} {r.Plan} {r.Target}: client {ClientSaw(r)}; driver {Nearby(input, r)}; event reason={reason} close_code={closeCode?.ToString() ?? "null"} at {ts}";
            if (expected != reason)
            {
                (sure ? mismatches : ambiguous).Add($"{context}; expected {expected} ({why})");
            }
            if (r.Error?.Contains("did not end", StringComparison.Ordinal) == true || r.Error?.Contains("still open", StringComparison.Ordinal) == true)
            {
                mismatches.Add($"{context}; {r.Error}");
            }
            if (r.Aborted && closeCode != null && closeCode != r.ReceivedCode && ts < r.AbortUs)
            {
                // The gateway ended first and its close frame reached the client's kernel; the client reset without reading it.
                ambiguous.Add($"{context}; close_code {closeCode} was in the client's buffer, unread, when it reset");
                continue;
            }
            codeJudged++;
            if (closeCode == r.ReceivedCode)
            {
                codeAgree++;
            }
            else
            {
                mismatches.Add($"{context}; close_code {closeCode?.ToString() ?? "null"} but the client received {r.ReceivedCode?.ToString() ?? "none (1006)"}");
            }
        }

        report.Lines.Add($"connections in events: {conns.Count} (matched by client port {conns.Values.Count(c => c.How == "port")}, by tag {conns.Values.Count(c => c.How == "tag")}, by time {byTime}, unaccounted {unaccounted.Count}); client records without a match: {unmatchedRecords.Count}");
        report.Lines.Add("ends by reason: " + string.Join(", ", byReason.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}")));
        report.Lines.Add("client plans: " + string.Join(", ", input.Records.GroupBy(r => r.Plan).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")));
        report.Lines.Add("client saw: " + string.Join(", ", input.Records.GroupBy(r => r.ReceivedCode?.ToString() ?? "none").OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")));
        report.Lines.Add("driver: " + string.Join(", ", input.Actions.GroupBy(a => a.What.Split(' ')[0] + " " + a.What.Split(' ')[1]).Select(g => $"{g.Key} {g.Count()}")));
        report.Lines.Add($"close_code agreement: {codeAgree}/{codeJudged} ({(codeJudged == 0 ? 0 : 100.0 * codeAgree / codeJudged):F1} %)");
        report.Lines.Add($"mismatches: {mismatches.Count}; ambiguous (not judged): {ambiguous.Count}");
        report.Lines.AddRange(mismatches.Select(m => "MISMATCH " + m));
        report.Lines.AddRange(ambiguous.Select(m => "AMBIGUOUS " + m));
        report.Mismatches = mismatches.Count;
        return report;
    }

    private static string Gaps(List<long> seqs)
    {
        var missing = new List<string>();
        for (var i = 1; i < seqs.Count && missing.Count < 10; i++)
        {
            if (seqs[i] != seqs[i - 1] + 1)
            {
                missing.Add($"{seqs[i - 1]}->{seqs[i]}");
            }
        }
        return seqs.Count == 0 ? "no events" : $"first {seqs[0]}, jumps {string.Join(' ', missing)}";
    }

    private static string Describe(Conn c) => c.Disconnects.Count == 0
        ? "no disconnect"
        : string.Join("; ", c.Disconnects.Select(d => $"{d.Reason} close_code={d.CloseCode?.ToString() ?? "null"} at {d.Ts}"));

    private static string ClientSaw(ConnRecord r)
    {
        var did = r.SentCloseCode is { } s ? $"sent close {s} at {r.SentCloseUs}"
            : r.Aborted ? $"reset at {r.AbortUs}"
            : r.SentOversize ? $"sent 1.5 MB at {r.OversizeUs}"
            : "did not end it";
        var paused = r.PauseFromUs > 0 ? $", paused reading {r.PauseFromUs}..{r.PauseToUs}" : "";
        var saw = r.ReceivedCode is { } c ? $"received {c} '{r.ReceivedText}' at {r.ReceivedUs}" : $"no close frame (1006), ended {r.EndUs}";
        return $"connected {r.ConnectUs}, {did}{paused}, {saw}{(r.Error != null ? " [" + r.Error + "]" : "")}";
    }

    private static string Nearby(Input input, ConnRecord r)
    {
        var near = input.Actions.Where(a => a.Us >= r.ConnectUs - 1_000_000 && a.Us <= r.EndUs + 1_000_000 && !a.What.StartsWith("PATCH /telemetry", StringComparison.Ordinal))
            .Select(a => $"{a.What} at {a.Us}").ToList();
        return near.Count == 0 ? "nothing to the browser in the window" : string.Join("; ", near);
    }

    /// <summary>The reason the contract gives for what this client did and saw; sure=false when timing cannot decide.</summary>
    private static (string Reason, string Why, bool Sure) Expect(ConnRecord r, Input input, long endUs)
    {
        if (r.SentCloseCode is { } sent)
        {
            return r.ReceivedCode == sent || r.ReceivedCode == null
                ? ("client_close", "the client closed first", r.ReceivedCode == sent)
                : ("client_close", $"the client closed with {sent} while the gateway's {r.ReceivedCode} crossed it", false);
        }
        if (r.Aborted)
        {
            return ("client_close", "the client reset first", !BrowserActionNear(input, r.AbortUs));
        }
        if (r.SentOversize)
        {
            return ("client_close", "the client sent an oversize message", r.ReceivedCode == 1009 || !BrowserActionNear(input, r.OversizeUs));
        }
        if (r.EndUs >= input.SigtermUs || r.ReceivedText == "gateway shutting down")
        {
            return ("context_cancelled", "the gateway was stopping", true);
        }
        if (r.ReceivedCode == 1012)
        {
            return ("upstream_changed", "the client got 1012: its browser was being replaced", true);
        }
        if (r.ReceivedCode == 1011 && r.ReceivedText == "browser unreachable")
        {
            return ("upstream_error", "no browser leg was made", true);
        }
        // The browser side ended it. The browser dialled is the first dialable one from the connect on (a connect during a
        // restart waits for the next browser); any other URL from then until the end plus the confirm wait makes it a change.
        // The end is the gateway's pinned time (a paused reader sees it seconds later). A URL shown with backoff, crash_loop
        // or restarting is the stale one of a browser already gone; starting with a URL is a browser that can be dialled.
        var limit = endUs + (long)input.ConfirmWait.TotalMicroseconds;
        var dial = input.BrowserLog.FirstOrDefault(b => b.Us >= r.ConnectUs - 100_000 && b.Url.Length > 0 && b.State is "ready" or "starting");
        if (dial.Url == null)
        {
            return ("upstream_error", "no browser was dialable after the connect", false);
        }
        var next = input.BrowserLog.FirstOrDefault(b => b.Us > dial.Us && b.Url.Length > 0 && b.Url != dial.Url);
        var changed = next.Url != null && next.Us <= limit;
        var sure = Math.Abs(dial.Us - r.ConnectUs) > EdgeUs && (next.Url == null || Math.Abs(next.Us - limit) > EdgeUs);
        return changed
            ? ("upstream_changed", $"browser side ended; dialled {dial.Url} (seen at {dial.Us}), next URL {next.Url} at {next.Us}, before the confirm wait's end {limit}", sure)
            : ("upstream_error", $"browser side ended; dialled {dial.Url} (seen at {dial.Us}), no other URL until the confirm wait's end {limit} (next: {next.Url ?? "none"} at {next.Us})", sure);
    }

    private static bool BrowserActionNear(Input input, long us)
        => input.Actions.Any(a => !a.What.StartsWith("PATCH /telemetry", StringComparison.Ordinal) && a.Us >= us - 1_500_000 && a.Us <= us + 200_000);
}
