using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;

namespace Bench;

/// <summary>Facts about the machine a run was taken on.</summary>
public static class Machine
{
    public static JsonObject Describe()
    {
        string cpu = "?";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        }
        catch (IOException)
        {
        }
        string mem = "?";
        try
        {
            var kb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
            mem = $"{double.Parse(kb) / 1024 / 1024:F1} GiB";
        }
        catch (Exception)
        {
        }
        return new JsonObject
        {
            ["nproc"] = Environment.ProcessorCount,
            ["cpu"] = cpu,
            ["memory"] = mem,
            ["kernel"] = Run("uname", "-r"),
            ["dotnet"] = Environment.Version.ToString(),
            ["nginx"] = Run("nginx", "-v"),
            ["hard_nofile"] = HardNoFile(),
        };
    }

    public static long HardNoFile()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return parts[4] == "unlimited" ? long.MaxValue : long.Parse(parts[4]);
        }
        catch (Exception)
        {
            return 1024;
        }
    }

    private static string Run(string file, string args)
    {
        try
        {
            var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return text.Trim();
        }
        catch (Exception)
        {
            return "?";
        }
    }
}

/// <summary>The side-by-side table, as text (also pasted into bench/README.md).</summary>
public static class Table
{
    public static string Render(JsonObject result)
    {
        var sb = new StringBuilder();
        var m = result["machine"]!;
        sb.AppendLine($"CDP Gateway bench ({result["mode"]}{((bool)result["quick"]! ? ", quick" : "")}), {result["date_utc"]}, {m["nproc"]} x {m["cpu"]}, {m["memory"]}, .NET {m["dotnet"]}, {m["nginx"]}");
        sb.AppendLine();
        sb.AppendLine("| figure | gateway | nginx | direct | gateway/nginx | target |");
        sb.AppendLine("|---|---:|---:|---:|---:|---|");
        foreach (var f in result["figures"]!.AsArray())
        {
            var unit = (string)f!["unit"]!;
            var ratio = f["gateway_over_nginx"]?.GetValue<double>();
            sb.AppendLine($"| {f["figure"]} ({unit}) | {Cell(f["gateway"])} | {Cell(f["nginx"])} | {Cell(f["direct"])} | {(ratio is null ? "-" : ratio.Value.ToString("F2"))} | {Verdict(f)} |");
        }
        var notes = result["notes"]!.AsArray();
        if (notes.Count > 0)
        {
            sb.AppendLine();
            foreach (var n in notes)
            {
                sb.AppendLine("- " + n);
            }
        }
        return sb.ToString();
    }

    private static string Cell(JsonNode? n)
    {
        if (n is null)
        {
            return "-";
        }
        var v = n.GetValue<double>();
        return Math.Abs(v) >= 1000 ? v.ToString("N0") : Math.Abs(v) >= 100 ? v.ToString("F0") : Math.Abs(v) >= 10 ? v.ToString("F1") : v.ToString("F2");
    }

    private static string Verdict(JsonNode f)
    {
        var target = (string?)f["target"];
        if (target is null)
        {
            return "";
        }
        double? g = f["gateway"]?.GetValue<double>();
        double? n = f["nginx"]?.GetValue<double>();
        bool? ok = f["met"] is { } met ? met.GetValue<bool>() : target switch
        {
            "gateway <= nginx" when g is not null && n is not null => g <= n,
            "gateway >= nginx" when g is not null && n is not null => g >= n,
            "gateway <= 32 KiB" when g is not null => g <= 32,
            "gateway < 5 %" when g is not null => g < 5,
            _ => null,
        };
        return ok switch { true => "met: " + target, false => "MISSED: " + target, null => target };
    }
}
