using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(ClusterDns.Benchmarks.Queries).Assembly).Run(args);
