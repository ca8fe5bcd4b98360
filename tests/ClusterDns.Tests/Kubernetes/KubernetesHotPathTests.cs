using ClusterDns.Kubernetes;
using ClusterDns.Server.Pipeline;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Kubernetes;

public sealed class KubernetesHotPathTests
{
    private sealed class CountingWriter : IDnsResponseWriter
    {
        public int Written;
        public int LastLength;
        public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
        {
            Written++;
            LastLength = response.Length;
        }
    }

    [Theory]
    [InlineData("nginx-service.default.svc.cluster.local", DnsType.A)]
    [InlineData("_http._tcp.web.default.svc.cluster.local", DnsType.SRV)]
    [InlineData("missing.default.svc.cluster.local", DnsType.A)]
    [InlineData("10.100.96.10.in-addr.arpa", DnsType.PTR)]
    public async Task A_cluster_name_answer_allocates_nothing(string name, DnsType type)
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        var plugin = (KubernetesPlugin)cluster.Server.Services.ReadinessReporters.Single(r => r.Name == "kubernetes");
        using var request = new DnsRequestContext();
        var query = DnsTestClient.BuildQuery(name, type);
        query.CopyTo(request.QueryBuffer, 0);
        var writer = new CountingWriter();

        for (var i = 0; i < 100; i++) Serve(plugin, request, query.Length, writer); // warm up (tiering, first-use statics)
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++) Serve(plugin, request, query.Length, writer);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1100, writer.Written);
        Assert.True(writer.LastLength > query.Length);
        Assert.Equal(0, allocated);
    }

    private static void Serve(KubernetesPlugin plugin, DnsRequestContext request, int length, IDnsResponseWriter writer)
    {
        request.Reset(length, DnsTransport.Udp, null, 53, CancellationToken.None);
        if (request.Parse() != DnsRequestContext.ParseResult.Ok) throw new InvalidOperationException("query did not parse");
        var result = plugin.ServeDnsAsync(request, writer);
        if (!result.IsCompletedSuccessfully) throw new InvalidOperationException("the answer should complete synchronously");
    }

    [Fact]
    public async Task Connection_defaults_from_the_executable_are_used_when_the_Corefile_names_no_endpoint()
    {
        await using var emulator = await ClusterDns.KubeEmulator.KubeApiEmulator.StartAsync(new ClusterDns.KubeEmulator.KubeEmulatorOptions());
        ClusterDns.KubeEmulator.ClusterFixtures.AddDemoCluster(emulator.Store);
        await using var server = await TestDnsServer.StartAsync("cluster.local {\n    kubernetes\n}\n",
            configure: services => services.SetExtension(new KubernetesConnectionDefaults(emulator.BaseAddress.ToString())));

        var response = await server.QueryAsync("nginx-service.default.svc.cluster.local");

        Assert.Equal(["10.96.100.10"], KubernetesTestCluster.Addresses(response));
    }
}
