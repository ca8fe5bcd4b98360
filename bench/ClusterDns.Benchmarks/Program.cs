using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// Building the per-run copy of this project takes minutes on a small shared machine; the default two time out.
var config = ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(15));
BenchmarkSwitcher.FromAssembly(typeof(ClusterDns.Benchmarks.Queries).Assembly).Run(args, config);
