using BenchmarkDotNet.Running;

// bench/run --micro, or: dotnet run -c Release --project bench/Micro -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Bench.Micro.RelayBenchmarks).Assembly).Run(args);
