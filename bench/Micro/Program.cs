using BenchmarkDotNet.Running;

// bench/run --micro, or: dotnet run -c Release --project bench/Micro -- --filter '*'
// dotnet run -c Release --project bench/Micro -- --quick-cost: a quick look at the command path without BenchmarkDotNet.
if (args is ["--quick-cost"])
{
    Bench.Micro.QuickCost.Run();
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Bench.Micro.RelayBenchmarks).Assembly).Run(args);
