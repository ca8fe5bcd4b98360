using BenchmarkDotNet.Attributes;
using ClusterDns.Server.Pipeline;
using Makaretu.Dns;

namespace ClusterDns.Benchmarks;

/// <summary>Header, question and EDNS OPT of a received query, parsed in place.</summary>
[MemoryDiagnoser]
public class QueryParseBenchmarks
{
    private readonly DnsRequestContext _request = new();
    private int _length;

    [GlobalSetup]
    public void Setup()
    {
        var query = Queries.Build("svc-1.ns-1.svc.cluster.local.", DnsType.A);
        query.CopyTo(_request.QueryBuffer, 0);
        _length = query.Length;
    }

    [Benchmark]
    public DnsRequestContext.ParseResult Parse()
    {
        _request.Reset(_length, DnsTransport.Udp, null, 53, CancellationToken.None);
        return _request.Parse();
    }

    [GlobalCleanup]
    public void Cleanup() => _request.Dispose();
}
