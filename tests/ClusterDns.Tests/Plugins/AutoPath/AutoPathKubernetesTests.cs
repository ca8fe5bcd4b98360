using System.Net;
using ClusterDns.KubeEmulator;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Plugins.AutoPath;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Kubernetes;
using k8s.Models;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.AutoPath;

/// <summary>
/// autopath @kubernetes against the API emulator and the real kubernetes plugin. The test Pods own loopback
/// addresses (127.0.0.2 in default, 127.0.0.3 in demo, 127.0.0.4 on the host network) and the client sends from
/// them, so the server sees each query come from its Pod; 127.0.0.1 is no Pod's.
/// </summary>
public sealed class AutoPathKubernetesTests : IAsyncLifetime
{
    private static readonly IPAddress DefaultPod = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress DemoPod = IPAddress.Parse("127.0.0.3");
    private static readonly IPAddress HostNetworkPod = IPAddress.Parse("127.0.0.4");
    private static readonly IPAddress NoPod = IPAddress.Loopback;

    private KubeApiEmulator _emulator = null!;
    private TestDnsServer _server = null!;

    public async Task InitializeAsync()
    {
        _emulator = await KubeApiEmulator.StartAsync(new KubeEmulatorOptions { BookmarkInterval = TimeSpan.FromMilliseconds(500) });
        ClusterFixtures.AddDemoCluster(_emulator.Store);
        _emulator.Store.Apply(Pod("default", "client", "127.0.0.2"));
        _emulator.Store.Apply(Pod("demo", "other-client", "127.0.0.3"));
        _emulator.Store.Apply(Pod("default", "node-agent", "127.0.0.4", hostNetwork: true));
        _server = await TestDnsServer.StartAsync(Corefile(_emulator.BaseAddress));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _emulator.DisposeAsync();
    }

    private static string Corefile(Uri endpoint) => $$"""
        . {
            cache 30
            autopath @kubernetes
            hosts {
                192.0.2.7 external.example
                fallthrough
            }
            kubernetes cluster.local {
                endpoint {{endpoint}}
                pods verified
            }
        }
        """;

    private static V1Pod Pod(string ns, string name, string ip, bool hostNetwork = false) => new()
    {
        ApiVersion = "v1",
        Kind = "Pod",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }], HostNetwork = hostNetwork },
        Status = new V1PodStatus { Phase = "Running", PodIP = ip, PodIPs = [new V1PodIP { Ip = ip }] },
    };

    private Task<Message> QueryAsync(string name, IPAddress from, DnsType type = DnsType.A, bool tcp = false) =>
        DnsTestClient.QueryAsync(_server.EndPoint, name, type, tcp, from: from);

    // The harness serves keys without a port on a free one; the server label keeps the Corefile's port, 0.
    private static double Successes => AutoPathMetrics.Success.WithLabels("dns://:0", "").Value;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_external_name_asked_through_the_first_search_domain_is_a_CNAME_to_its_answer(bool tcp)
    {
        var response = await QueryAsync("External.Example.default.svc.cluster.local", DefaultPod, tcp: tcp);

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.Equal("External.Example.default.svc.cluster.local", response.Questions[0].Name.ToString());
        Assert.Equal(2, response.Answers.Count);
        var cname = Assert.IsType<CNAMERecord>(response.Answers[0]);
        Assert.Equal("External.Example.default.svc.cluster.local", cname.Name.ToString());
        Assert.Equal("External.Example", cname.Target.ToString());
        var address = Assert.IsType<ARecord>(response.Answers[1]);
        Assert.Equal("External.Example", address.Name.ToString());
        Assert.Equal("192.0.2.7", address.Address.ToString());
    }

    [Fact]
    public async Task A_service_of_the_pods_namespace_is_answered_directly()
    {
        var response = await QueryAsync("nginx-service.default.svc.cluster.local", DefaultPod);

        Assert.Equal(MessageStatus.NoError, response.Status);
        var address = Assert.IsType<ARecord>(Assert.Single(response.Answers));
        Assert.Equal("10.96.100.10", address.Address.ToString());
    }

    [Fact]
    public async Task A_service_of_another_namespace_is_found_through_svc_cluster_local()
    {
        var response = await QueryAsync("api.demo.default.svc.cluster.local", DefaultPod);

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.Equal("api.demo.svc.cluster.local", Assert.IsType<CNAMERecord>(response.Answers[0]).Target.ToString());
        Assert.Equal(["10.96.200.10"], KubernetesTestCluster.Addresses(response));
    }

    [Fact]
    public async Task NODATA_at_the_found_name_is_a_CNAME_to_it_with_its_SOA()
    {
        var response = await QueryAsync("api.demo.default.svc.cluster.local", DefaultPod, DnsType.AAAA);

        Assert.Equal(MessageStatus.NoError, response.Status);
        var cname = Assert.IsType<CNAMERecord>(Assert.Single(response.Answers));
        Assert.Equal("api.demo.svc.cluster.local", cname.Target.ToString());
        Assert.IsType<SOARecord>(Assert.Single(response.AuthorityRecords));
    }

    [Fact]
    public async Task A_client_that_is_no_pod_gets_the_NXDOMAIN_of_the_plain_walk_even_after_a_pod_got_the_CNAME()
    {
        var fromPod = await QueryAsync("external.example.default.svc.cluster.local", DefaultPod);
        Assert.Equal(MessageStatus.NoError, fromPod.Status);

        // Same name, same cache: the Pod's answer must not reach a client whose walk would go on.
        var fromElsewhere = await QueryAsync("external.example.default.svc.cluster.local", NoPod);

        Assert.Equal(MessageStatus.NameError, fromElsewhere.Status);
        Assert.Empty(fromElsewhere.Answers);
        Assert.IsType<SOARecord>(Assert.Single(fromElsewhere.AuthorityRecords));
    }

    [Fact]
    public async Task A_pod_gets_the_CNAME_even_after_a_client_that_is_no_pod_got_the_NXDOMAIN_cached()
    {
        Assert.Equal(MessageStatus.NameError, (await QueryAsync("external.example.default.svc.cluster.local", NoPod)).Status);

        var fromPod = await QueryAsync("external.example.default.svc.cluster.local", DefaultPod);

        Assert.Equal(MessageStatus.NoError, fromPod.Status);
        Assert.Equal(["192.0.2.7"], KubernetesTestCluster.Addresses(fromPod));
    }

    [Fact]
    public async Task A_pod_of_another_namespace_or_on_the_host_network_walks_as_without_autopath()
    {
        Assert.Equal(MessageStatus.NameError, (await QueryAsync("external.example.default.svc.cluster.local", DemoPod)).Status);
        Assert.Equal(MessageStatus.NameError, (await QueryAsync("external.example.default.svc.cluster.local", HostNetworkPod)).Status);

        var ownNamespace = await QueryAsync("external.example.demo.svc.cluster.local", DemoPod);
        Assert.Equal(MessageStatus.NoError, ownNamespace.Status);
        Assert.Equal(["192.0.2.7"], KubernetesTestCluster.Addresses(ownNamespace));
    }

    [Fact]
    public async Task A_name_no_candidate_has_is_the_asked_names_own_NXDOMAIN()
    {
        var response = await QueryAsync("nowhere.invalid.default.svc.cluster.local", DefaultPod);

        Assert.Equal(MessageStatus.NameError, response.Status);
        Assert.Empty(response.Answers);
        var soa = Assert.IsType<SOARecord>(Assert.Single(response.AuthorityRecords));
        Assert.Equal("cluster.local", soa.Name.ToString());
    }

    [Fact]
    public async Task A_cached_walk_answers_the_same_and_ends_when_the_pod_is_deleted()
    {
        var first = await QueryAsync("external.example.default.svc.cluster.local", DefaultPod);
        var cached = await QueryAsync("EXTERNAL.example.default.svc.cluster.local", DefaultPod);
        Assert.Equal(["192.0.2.7"], KubernetesTestCluster.Addresses(first));
        Assert.Equal(["192.0.2.7"], KubernetesTestCluster.Addresses(cached));
        Assert.Equal("EXTERNAL.example.default.svc.cluster.local", cached.Questions[0].Name.ToString());

        _emulator.Store.Delete<V1Pod>("default", "client");

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        Message response;
        do
        {
            await Task.Delay(50);
            response = await QueryAsync("external.example.default.svc.cluster.local", DefaultPod);
        } while (response.Status != MessageStatus.NameError && DateTime.UtcNow < deadline);
        Assert.Equal(MessageStatus.NameError, response.Status);
    }

    [Fact]
    public async Task Names_of_later_search_steps_are_left_alone()
    {
        Assert.Equal(MessageStatus.NameError, (await QueryAsync("external.example.svc.cluster.local", DefaultPod)).Status);
        Assert.Equal(MessageStatus.NameError, (await QueryAsync("external.example.cluster.local", DefaultPod)).Status);
    }

    [Fact]
    public async Task Success_counts_each_completed_walk_and_nothing_else()
    {
        var before = Successes;

        await QueryAsync("external.example.default.svc.cluster.local", DefaultPod); // a walk
        await QueryAsync("nginx-service.default.svc.cluster.local", DefaultPod); // its own answer
        await QueryAsync("external.example.default.svc.cluster.local", NoPod); // not a pod
        await QueryAsync("nowhere.invalid.default.svc.cluster.local", DefaultPod); // nothing found

        Assert.Equal(before + 1, Successes);
    }

    [Fact]
    public async Task Without_pods_verified_the_corefile_is_refused_at_the_autopath_line()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(
            ". {\n    autopath @kubernetes\n    kubernetes cluster.local {\n        endpoint http://127.0.0.1:1\n    }\n}\n");

        Assert.Equal(2, error.Line);
        Assert.Equal("autopath", error.Directive);
        Assert.Contains("pods verified", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(". {\n    autopath @hosts\n    hosts {\n        192.0.2.1 a.example\n    }\n}\n", "does not give search paths")]
    [InlineData(". {\n    autopath @kubernetes\n}\n", "no plugin 'kubernetes'")]
    [InlineData(". {\n    autopath\n}\n", "missing argument")]
    [InlineData(". {\n    autopath /no/such/resolv.conf\n}\n", "no such file")]
    public async Task Bad_directives_are_refused_with_the_line(string corefile, string message)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(corefile);

        Assert.Equal(2, error.Line);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
