using BenchmarkDotNet.Attributes;
using ClusterDns.Server.Pipeline;
using Makaretu.Dns;

namespace ClusterDns.Benchmarks;

/// <summary>
/// Whole queries through the pipeline (parse, zone routing, errors, prometheus, the answering plugin, the transport's
/// finalizer): a cache hit in front of a stand-in upstream, and a kubernetes Service answer.
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private readonly DnsRequestContext _request = new();
    private readonly TransportWriter _writer = new();
    private BenchmarkServer _server = null!;
    private byte[] _cached = [];
    private byte[] _service = [];

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.StartAsync().GetAwaiter().GetResult();
        _cached = Queries.Build("www.example.org.", DnsType.A);
        _service = Queries.Build("svc-1.ns-1.svc.cluster.local.", DnsType.A);
        var before = StandInUpstream.Calls;
        CacheHit();
        CacheHit();
        var asked = StandInUpstream.Calls - before;
        if (asked != 1) throw new InvalidOperationException($"cache did not answer: the upstream was asked {asked} times");
    }

    [Benchmark]
    public int CacheHit() => Run(_cached);

    [Benchmark]
    public int KubernetesService() => Run(_service);

    private int Run(byte[] query)
    {
        query.CopyTo(_request.QueryBuffer, 0);
        _server.Serve(_request, query.Length, _writer);
        if (_writer.LastRcode != 0) throw new InvalidOperationException($"rcode {_writer.LastRcode}");
        return _writer.LastLength;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _request.Dispose();
    }
}
