using System.Diagnostics;
using CdpGateway.Telemetry.Commands;

namespace Bench.Micro;

/// <summary>
/// A quick, noisy check without BenchmarkDotNet (dotnet Micro.dll --quick-cost): ns and bytes per call of the
/// command benchmarks, best of several rounds, on this thread.
/// </summary>
public static class QuickCost
{
    public static void Run()
    {
        var cost = new CommandCostBenchmarks();
        cost.Setup();
        Measure("whole command", () => cost.Whole());
        Measure("Classify (public)", () => cost.Classify());
        Measure("PublishCommand", () => cost.PublishData());
        Measure("PublishUtf8", () => cost.PublishUtf8());
        foreach (string frame in new[] { CommandFrames.Control, CommandFrames.Library, CommandFrames.LargeMethodFirst, CommandFrames.LargeMethodLast })
        {
            var a = new AdmissionBenchmarks { Frame = frame };
            a.Setup();
            int n = frame.Contains("MiB") ? 200 : 200_000;
            Measure($"TryReadMethod {frame}", () => a.TryReadMethod(), n);
            Measure($"Begin whole {frame}", () => a.BeginWhole(), n);
            Measure($"chunked {frame}", () => a.Chunked(), n);
        }
    }

    private static void Measure(string name, Func<object> op, int n = 200_000)
    {
        for (int i = 0; i < Math.Min(n, 10_000); i++)
        {
            op();
        }
        double best = double.MaxValue;
        long bytes = 0;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                op();
            }
            sw.Stop();
            bytes = (GC.GetAllocatedBytesForCurrentThread() - before) / n;
            best = Math.Min(best, sw.Elapsed.TotalNanoseconds / n);
        }
        Console.WriteLine($"{name,-60} {best,12:F1} ns {bytes,6} B");
    }
}
