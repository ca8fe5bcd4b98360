using k8s.Models;
using Makaretu.Dns;

namespace ClusterDns.Tests.Kubernetes;

/// <summary>
/// How names come and go in the index as objects change: a name several owners share, empty non-terminals, and the
/// same name removed and added again.
/// </summary>
public sealed class KubernetesNameIndexTests
{
    private static Func<Message, bool> Status(MessageStatus status) => response => response.Status == status;

    private static string[] PtrTargets(Message response) =>
        [.. response.Answers.OfType<PTRRecord>().Select(r => r.DomainName.ToString()).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task A_reverse_name_two_Services_share_answers_for_both_until_each_leaves()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        const string reverse = "99.9.244.10.in-addr.arpa";
        cluster.Store.Apply(KubernetesChangeTests.ClusterIpService("default", "left", "None"));
        cluster.Store.Apply(KubernetesChangeTests.ClusterIpService("default", "right", "None"));
        cluster.Store.Apply(KubernetesChangeTests.Slice("default", "left", "left-1", ("10.244.9.99", "pod", true)));
        cluster.Store.Apply(KubernetesChangeTests.Slice("default", "right", "right-1", ("10.244.9.99", "pod", true)));

        var both = await cluster.WaitForAsync(reverse, DnsType.PTR, r => PtrTargets(r).Length == 2);
        Assert.Equal(["pod.left.default.svc.cluster.local", "pod.right.default.svc.cluster.local"], PtrTargets(both));

        cluster.Store.Delete<V1EndpointSlice>("default", "right-1");
        var one = await cluster.WaitForAsync(reverse, DnsType.PTR, r => PtrTargets(r).Length == 1);
        Assert.Equal(["pod.left.default.svc.cluster.local"], PtrTargets(one));
        Assert.Equal(MessageStatus.NameError, (await cluster.WaitForAsync("pod.right.default.svc.cluster.local", DnsType.A,
            Status(MessageStatus.NameError))).Status);

        cluster.Store.Delete<V1EndpointSlice>("default", "left-1");
        var gone = await cluster.WaitForAsync(reverse, DnsType.PTR, Status(MessageStatus.NameError));
        Assert.Equal(MessageStatus.NameError, gone.Status);
        Assert.IsType<SOARecord>(Assert.Single(gone.AuthorityRecords));
    }

    [Fact]
    public async Task Empty_non_terminals_answer_NODATA_while_a_name_below_exists_and_NXDOMAIN_after()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        const string ns = "fresh-ns.svc.cluster.local", portParent = "_tcp.api.fresh-ns.svc.cluster.local";
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync(ns)).Status);

        cluster.Store.Apply(KubernetesChangeTests.ClusterIpService("fresh-ns", "api", "10.96.7.7"));
        await cluster.WaitForAsync("api.fresh-ns.svc.cluster.local", DnsType.A, Status(MessageStatus.NoError));
        foreach (var name in new[] { ns, portParent, "7.96.10.in-addr.arpa" })
        {
            var nodata = await cluster.QueryAsync(name);
            Assert.Equal(MessageStatus.NoError, nodata.Status);
            Assert.Empty(nodata.Answers);
            Assert.IsType<SOARecord>(Assert.Single(nodata.AuthorityRecords));
        }

        cluster.Store.Delete<V1Service>("fresh-ns", "api");
        await cluster.WaitForAsync("api.fresh-ns.svc.cluster.local", DnsType.A, Status(MessageStatus.NameError));
        foreach (var name in new[] { ns, portParent, "7.96.10.in-addr.arpa" })
            Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync(name)).Status);
        // svc.<zone> is the zone's own: it stays NODATA with no Service left below it in this namespace.
        Assert.Equal(MessageStatus.NoError, (await cluster.QueryAsync("svc.cluster.local")).Status);
    }

    [Fact]
    public async Task A_name_removed_and_added_again_answers_its_new_records()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        const string name = "again.default.svc.cluster.local";
        cluster.Store.Apply(KubernetesChangeTests.ClusterIpService("default", "again", "10.96.8.8"));
        await cluster.WaitForAsync(name, DnsType.A, Status(MessageStatus.NoError));
        cluster.Store.Delete<V1Service>("default", "again");
        await cluster.WaitForAsync(name, DnsType.A, Status(MessageStatus.NameError));

        cluster.Store.Apply(KubernetesChangeTests.ClusterIpService("default", "again", "10.96.8.9", port: 53));
        var back = await cluster.WaitForAsync(name, DnsType.A, r => KubernetesTestCluster.Addresses(r).SequenceEqual(["10.96.8.9"]));
        Assert.Equal(["10.96.8.9"], KubernetesTestCluster.Addresses(back));
        var srv = await cluster.QueryAsync("_http._tcp." + name, DnsType.SRV);
        Assert.Equal(53, Assert.IsType<SRVRecord>(Assert.Single(srv.Answers)).Port);
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("8.8.96.10.in-addr.arpa", DnsType.PTR)).Status);
    }
}
