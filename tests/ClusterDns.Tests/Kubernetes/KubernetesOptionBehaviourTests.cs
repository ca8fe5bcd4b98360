using ClusterDns.Tests.Infrastructure;
using k8s.Models;
using Makaretu.Dns;

namespace ClusterDns.Tests.Kubernetes;

/// <summary>How the block's options change what a client sees.</summary>
public sealed class KubernetesOptionBehaviourTests
{
    private static V1Pod Pod(string ns, string name, params string[] ips) => new()
    {
        ApiVersion = "v1",
        Kind = "Pod",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }] },
        Status = new V1PodStatus { Phase = "Running", PodIP = ips[0], PodIPs = [.. ips.Select(ip => new V1PodIP { Ip = ip })] },
    };

    [Theory]
    [InlineData("10-244-1-10.default.pod.cluster.local", DnsType.A, "10.244.1.10")]
    [InlineData("10-1-2-3.default.pod.cluster.local", DnsType.A, "10.1.2.3")]
    [InlineData("fd00--1.default.pod.cluster.local", DnsType.AAAA, "fd00::1")]
    public async Task Pods_insecure_answers_any_well_formed_dashed_address(string name, DnsType type, string expected)
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("pods insecure");

        var response = await cluster.QueryAsync(name, type);

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.True(response.AA);
        Assert.Equal([expected], KubernetesTestCluster.Addresses(response));
        Assert.Equal(name, response.Answers[0].Name.ToString());
    }

    [Theory]
    [InlineData("10-244-1-999.default.pod.cluster.local")]
    [InlineData("not-an-ip.default.pod.cluster.local")]
    [InlineData("10-244-1-10.no-such-namespace.pod.cluster.local")]
    public async Task Pods_insecure_rejects_bad_addresses_and_unknown_namespaces(string name)
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("pods insecure");

        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync(name)).Status);
    }

    [Fact]
    public async Task Pods_verified_answers_only_addresses_of_existing_pods_in_that_namespace()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("pods verified");

        Assert.Equal(["10.244.1.10"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("10-244-1-10.default.pod.cluster.local")));
        Assert.Equal(["fd00:10:244:1::30"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("fd00-10-244-1--30.default.pod.cluster.local", DnsType.AAAA)));
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("10-1-2-3.default.pod.cluster.local")).Status);
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("10-244-1-10.demo.pod.cluster.local")).Status); // wrong namespace

        cluster.Store.Apply(Pod("demo", "newcomer", "10.244.2.99"));
        var created = await cluster.WaitForAsync("10-244-2-99.demo.pod.cluster.local", DnsType.A, r => r.Status == MessageStatus.NoError);
        Assert.Equal(["10.244.2.99"], KubernetesTestCluster.Addresses(created));

        cluster.Store.Delete<V1Pod>("demo", "newcomer");
        var deleted = await cluster.WaitForAsync("10-244-2-99.demo.pod.cluster.local", DnsType.A, r => r.Status == MessageStatus.NameError);
        Assert.Equal(MessageStatus.NameError, deleted.Status);
    }

    [Fact]
    public async Task Pods_disabled_is_NXDOMAIN()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("pods disabled");

        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("10-244-1-10.default.pod.cluster.local")).Status);
    }

    [Fact]
    public async Task Namespaces_restricts_what_is_served()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("namespaces demo");

        Assert.Equal(["10.96.200.10"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("api.demo.svc.cluster.local")));
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("nginx-service.default.svc.cluster.local")).Status);
    }

    [Fact]
    public async Task Namespace_labels_serves_matching_namespaces_and_follows_label_changes()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("namespace_labels dns=on");
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("api.demo.svc.cluster.local")).Status);

        cluster.Store.Apply(new V1Namespace
        {
            ApiVersion = "v1", Kind = "Namespace",
            Metadata = new V1ObjectMeta { Name = "demo", Labels = new Dictionary<string, string> { ["dns"] = "on" } },
        });
        var response = await cluster.WaitForAsync("api.demo.svc.cluster.local", DnsType.A, r => r.Status == MessageStatus.NoError);
        Assert.Equal(["10.96.200.10"], KubernetesTestCluster.Addresses(response));
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("nginx-service.default.svc.cluster.local")).Status);
    }

    [Fact]
    public async Task Labels_selects_services()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("labels app=nginx");

        Assert.Equal(["10.96.100.10"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("nginx-service.default.svc.cluster.local")));
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("kube-dns.kube-system.svc.cluster.local")).Status);
    }

    [Fact]
    public async Task Ignore_empty_service_is_NXDOMAIN_for_a_service_without_ready_endpoints()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("ignore empty_service");

        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("kubernetes.default.svc.cluster.local")).Status); // no slice in the demo
        Assert.Equal(["10.96.100.10"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("nginx-service.default.svc.cluster.local")));
    }

    [Fact]
    public async Task Without_ignore_empty_service_a_service_without_endpoints_still_answers()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();

        Assert.Equal(["10.96.0.1"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("kubernetes.default.svc.cluster.local")));
    }

    [Fact]
    public async Task Endpoint_pod_names_names_endpoints_after_their_pods()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("endpoint_pod_names");

        Assert.Equal(["10.244.1.10"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("nginx-0.nginx-service.default.svc.cluster.local")));
        Assert.Equal(["10.244.1.20"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("web-0.web.default.svc.cluster.local"))); // hostname wins
        var ptr = await cluster.QueryAsync("10.1.244.10.in-addr.arpa", DnsType.PTR);
        Assert.Equal("nginx-0.nginx-service.default.svc.cluster.local", Assert.IsType<PTRRecord>(Assert.Single(ptr.Answers)).DomainName.ToString());
    }

    [Fact]
    public async Task Noendpoints_serves_cluster_ips_only()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("noendpoints");

        Assert.Equal(["10.96.100.10"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("nginx-service.default.svc.cluster.local")));
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("web.default.svc.cluster.local")).Status);
    }

    [Fact]
    public async Task Ttl_applies_to_answers_and_the_soa()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync("ttl 60");

        var response = await cluster.QueryAsync("nginx-service.default.svc.cluster.local");
        Assert.Equal(TimeSpan.FromSeconds(60), Assert.Single(response.Answers).TTL);
        var negative = await cluster.QueryAsync("missing.default.svc.cluster.local");
        var soa = Assert.IsType<SOARecord>(Assert.Single(negative.AuthorityRecords));
        Assert.Equal(TimeSpan.FromSeconds(60), soa.TTL);
        Assert.Equal(TimeSpan.FromSeconds(60), soa.Minimum);
    }

    [Fact]
    public async Task Kubeconfig_connects_with_the_named_context()
    {
        await using var emulator = await ClusterDns.KubeEmulator.KubeApiEmulator.StartAsync(new ClusterDns.KubeEmulator.KubeEmulatorOptions());
        ClusterDns.KubeEmulator.ClusterFixtures.AddDemoCluster(emulator.Store);
        var path = Path.Combine(Path.GetTempPath(), "clusterdns-kubeconfig-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(path, $"""
            apiVersion: v1
            kind: Config
            current-context: wrong
            clusters:
            - name: broken
              cluster:
                server: "http://127.0.0.1:1"
            - name: emulator
              cluster:
                server: "{emulator.BaseAddress}"
            users:
            - name: me
              user:
                token: "t"
            contexts:
            - name: wrong
              context:
                cluster: broken
                user: me
            - name: right
              context:
                cluster: emulator
                user: me
            """);
        try
        {
            await using var server = await TestDnsServer.StartAsync($"cluster.local {{\n    kubernetes {{\n        kubeconfig {path} right\n    }}\n}}\n");

            Assert.Equal(["10.96.100.10"], KubernetesTestCluster.Addresses(await server.QueryAsync("nginx-service.default.svc.cluster.local")));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Fallthrough_hands_NXDOMAIN_names_of_its_zones_to_the_next_plugin()
    {
        var emulator = await ClusterDns.KubeEmulator.KubeApiEmulator.StartAsync(new ClusterDns.KubeEmulator.KubeEmulatorOptions());
        ClusterDns.KubeEmulator.ClusterFixtures.AddDemoCluster(emulator.Store);
        try
        {
            var corefile = $"cluster.local in-addr.arpa {{\n    kubernetes cluster.local in-addr.arpa {{\n        endpoint {emulator.BaseAddress}\n        fallthrough in-addr.arpa\n    }}\n    whoami\n}}\n";
            await using var server = await TestDnsServer.StartAsync(corefile);

            // A reverse name we do not know goes on to whoami (which answers with the client's address in additional).
            var fell = await server.QueryAsync("4.3.2.1.in-addr.arpa", DnsType.PTR);
            Assert.Equal(MessageStatus.NoError, fell.Status);
            Assert.Contains(fell.AdditionalRecords, r => r is ARecord a && a.Address.ToString() == "127.0.0.1");
            // A known one is answered here; a missing cluster.local name is not in the fallthrough zones.
            Assert.IsType<PTRRecord>(Assert.Single((await server.QueryAsync("10.100.96.10.in-addr.arpa", DnsType.PTR)).Answers));
            Assert.Equal(MessageStatus.NameError, (await server.QueryAsync("missing.default.svc.cluster.local")).Status);
        }
        finally
        {
            await emulator.DisposeAsync();
        }
    }
}
