using k8s.Models;
using Makaretu.Dns;

namespace ClusterDns.Tests.Kubernetes;

/// <summary>
/// <c>cache 30</c> in front of the kubernetes plugin: answers come from the cache, yet a Service deleted or replaced
/// through the API is never served stale (CoreDNS serves it for up to the cache TTL).
/// </summary>
public sealed class KubernetesCacheTests
{
    private static string CorefileWithCache(Uri endpoint) =>
        $"cluster.local in-addr.arpa ip6.arpa {{\n    cache 30\n    kubernetes cluster.local in-addr.arpa ip6.arpa {{\n        endpoint {endpoint}\n        ttl 30\n    }}\n}}\n";

    [Fact]
    public async Task A_deleted_or_replaced_service_leaves_a_cache_30_answer_at_once()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync(corefile: CorefileWithCache);
        const string name = "cached.default.svc.cluster.local";
        cluster.Store.Apply(KubernetesChangeTests.ClusterIpService("default", "cached", "10.96.7.7"));
        var first = await cluster.WaitForAsync(name, DnsType.A, response => response.Answers.Count == 1);
        Assert.Equal(TimeSpan.FromSeconds(30), Assert.Single(first.Answers).TTL);
        await Task.Delay(TimeSpan.FromMilliseconds(1200));
        // The kubernetes plugin always answers with TTL 30; a lower TTL is the cache's countdown: this was a hit.
        var hit = await cluster.QueryAsync(name);
        Assert.True(Assert.Single(hit.Answers).TTL < TimeSpan.FromSeconds(30));

        // WaitForAsync gives up after 10 s, a third of the cache TTL: a stale entry would outlast it.
        cluster.Store.Delete<V1Service>("default", "cached");
        var gone = await cluster.WaitForAsync(name, DnsType.A, response => response.Status == MessageStatus.NameError);
        Assert.Equal(MessageStatus.NameError, gone.Status);

        cluster.Store.Apply(KubernetesChangeTests.ClusterIpService("default", "cached", "10.96.7.8"));
        var replaced = await cluster.WaitForAsync(name, DnsType.A, response => response.Answers.Count == 1);
        Assert.Equal("10.96.7.8", Assert.IsType<ARecord>(Assert.Single(replaced.Answers)).Address.ToString());
    }
}
