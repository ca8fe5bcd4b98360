using BenchmarkDotNet.Attributes;
using ClusterDns.Kubernetes;
using ClusterDns.Server.Pipeline;
using Makaretu.Dns;

namespace ClusterDns.Benchmarks;

/// <summary>
/// The kubernetes plugin alone, on parsed queries: the name index lookup and the answer it assembles, for a Service
/// that exists (A), a name that does not (NXDOMAIN) and a type the name lacks (NODATA).
/// </summary>
[MemoryDiagnoser]
public class KubernetesLookupBenchmarks
{
    private readonly DnsRequestContext _request = new();
    private readonly DiscardingWriter _writer = new();
    private BenchmarkServer _server = null!;
    private KubernetesPlugin _plugin = null!;

    [Params("svc-1.ns-1.svc.cluster.local. A", "missing.ns-1.svc.cluster.local. A", "svc-1.ns-1.svc.cluster.local. TXT")]
    public string Query { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.StartAsync().GetAwaiter().GetResult();
        _plugin = _server.Plugins.OfType<KubernetesPlugin>().Single();
        var parts = Query.Split(' ');
        var query = Queries.Build(parts[0], Enum.Parse<DnsType>(parts[1]));
        query.CopyTo(_request.QueryBuffer, 0);
        _request.Reset(query.Length, DnsTransport.Udp, null, 53, CancellationToken.None);
        if (_request.Parse() != DnsRequestContext.ParseResult.Ok) throw new InvalidOperationException("query did not parse");
        _request.Zone = _server.Router.Find(_request.QName);
    }

    [Benchmark]
    public int Lookup()
    {
        var pending = _plugin.ServeDnsAsync(_request, _writer);
        if (!pending.IsCompletedSuccessfully) throw new InvalidOperationException("the lookup went asynchronous");
        return pending.Result;
    }

    /// <summary>Takes the answer and does nothing with it, so only the plugin's own work is measured.</summary>
    private sealed class DiscardingWriter : IDnsResponseWriter
    {
        public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
        {
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _request.Dispose();
    }
}
