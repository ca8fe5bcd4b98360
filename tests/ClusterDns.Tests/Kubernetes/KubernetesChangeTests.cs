using System.Net;
using ClusterDns.KubeEmulator;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Plugins.Operations;
using k8s.Models;
using Makaretu.Dns;

namespace ClusterDns.Tests.Kubernetes;

/// <summary>Cluster changes made through the emulator show up in the DNS answers; outages keep the last state answering.</summary>
public sealed class KubernetesChangeTests
{
    internal static V1Service ClusterIpService(string ns, string name, string ip, int port = 80) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1ServiceSpec
        {
            ClusterIP = ip,
            ClusterIPs = [ip],
            Ports = [new V1ServicePort { Name = "http", Port = port, Protocol = "TCP" }],
        },
    };

    internal static V1EndpointSlice Slice(string ns, string service, string name, params (string Ip, string? Hostname, bool Ready)[] endpoints) => new()
    {
        ApiVersion = "discovery.k8s.io/v1",
        Kind = "EndpointSlice",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = service } },
        AddressType = "IPv4",
        Endpoints = [.. endpoints.Select(e => new V1Endpoint { Addresses = [e.Ip], Hostname = e.Hostname, Conditions = new V1EndpointConditions { Ready = e.Ready } })],
        Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 80, Protocol = "TCP" }],
    };

    private static Func<Message, bool> Has(params string[] addresses) =>
        response => KubernetesTestCluster.Addresses(response).SequenceEqual(addresses.Order(StringComparer.Ordinal));

    private static Func<Message, bool> Status(MessageStatus status) => response => response.Status == status;

    [Fact]
    public async Task Services_created_updated_and_deleted_change_the_answers()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        const string name = "fresh.default.svc.cluster.local";
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync(name)).Status);

        cluster.Store.Apply(ClusterIpService("default", "fresh", "10.96.5.5"));
        Assert.True(Has("10.96.5.5")(await cluster.WaitForAsync(name, DnsType.A, Has("10.96.5.5"))));
        var ptr = await cluster.WaitForAsync("5.5.96.10.in-addr.arpa", DnsType.PTR, Status(MessageStatus.NoError));
        Assert.Equal("fresh.default.svc.cluster.local", Assert.IsType<PTRRecord>(Assert.Single(ptr.Answers)).DomainName.ToString());

        // clusterIP is immutable (the emulator enforces it as the API server does): update the port instead.
        cluster.Store.Apply(ClusterIpService("default", "fresh", "10.96.5.5", port: 8080));
        var srv = await cluster.WaitForAsync("_http._tcp." + name, DnsType.SRV, r => r.Answers.OfType<SRVRecord>().Any(s => s.Port == 8080));
        Assert.Equal(8080, Assert.IsType<SRVRecord>(Assert.Single(srv.Answers)).Port);

        cluster.Store.Delete<V1Service>("default", "fresh");
        var gone = await cluster.WaitForAsync(name, DnsType.A, Status(MessageStatus.NameError));
        Assert.Equal(MessageStatus.NameError, gone.Status);
        Assert.IsType<SOARecord>(Assert.Single(gone.AuthorityRecords));
        Assert.Equal(MessageStatus.NameError, (await cluster.WaitForAsync("5.5.96.10.in-addr.arpa", DnsType.PTR, Status(MessageStatus.NameError))).Status);
    }

    [Fact]
    public async Task EndpointSlices_merge_and_change_headless_answers()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        const string name = "web.default.svc.cluster.local";

        // A second slice for the same Service adds to the first; a not-ready endpoint stays out.
        cluster.Store.Apply(Slice("default", "web", "web-extra", ("10.244.1.22", "web-2", true), ("10.244.1.23", null, false)));
        var merged = await cluster.WaitForAsync(name, DnsType.A, Has("10.244.1.20", "10.244.1.21", "10.244.1.22"));
        Assert.Equal(["10.244.1.20", "10.244.1.21", "10.244.1.22"], KubernetesTestCluster.Addresses(merged));
        Assert.Equal(["10.244.1.22"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("web-2.web.default.svc.cluster.local")));
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("10-244-1-23.web.default.svc.cluster.local")).Status);

        cluster.Store.Delete<V1EndpointSlice>("default", "web-demo0");
        var after = await cluster.WaitForAsync(name, DnsType.A, Has("10.244.1.22"));
        Assert.Equal(["10.244.1.22"], KubernetesTestCluster.Addresses(after));
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("web-0.web.default.svc.cluster.local")).Status);

        cluster.Store.Delete<V1EndpointSlice>("default", "web-extra");
        Assert.Equal(MessageStatus.NameError, (await cluster.WaitForAsync(name, DnsType.A, Status(MessageStatus.NameError))).Status);
    }

    [Fact]
    public async Task Not_ready_endpoints_are_published_with_publishNotReadyAddresses()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        var service = new V1Service
        {
            ApiVersion = "v1", Kind = "Service",
            Metadata = new V1ObjectMeta { Name = "peers", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "None", PublishNotReadyAddresses = true, Ports = [new V1ServicePort { Name = "http", Port = 80 }] },
        };
        cluster.Store.Apply(service);
        cluster.Store.Apply(Slice("default", "peers", "peers-a", ("10.244.3.1", "peer-0", false)));

        var response = await cluster.WaitForAsync("peers.default.svc.cluster.local", DnsType.A, Has("10.244.3.1"));
        Assert.Equal(["10.244.3.1"], KubernetesTestCluster.Addresses(response));
    }

    [Fact]
    public async Task A_headless_answer_larger_than_a_message_is_truncated_not_broken()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        cluster.Store.Apply(new V1Service
        {
            ApiVersion = "v1", Kind = "Service",
            Metadata = new V1ObjectMeta { Name = "huge", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "None", Ports = [new V1ServicePort { Name = "http", Port = 80 }] },
        });
        for (var s = 0; s < 50; s++)
        {
            var endpoints = Enumerable.Range(0, 100).Select(i => ($"10.{100 + s}.{i / 250}.{i % 250 + 1}", (string?)null, true)).ToArray();
            cluster.Store.Apply(Slice("default", "huge", $"huge-{s}", endpoints));
        }

        // 5,000 A records (80 KB) do not fit in a DNS message, even over TCP.
        var response = await cluster.WaitForAsync("10-149-0-100.huge.default.svc.cluster.local", DnsType.A, Status(MessageStatus.NoError));
        Assert.Equal(["10.149.0.100"], KubernetesTestCluster.Addresses(response));
        var big = await cluster.Server.QueryAsync("huge.default.svc.cluster.local", DnsType.A, tcp: true);
        Assert.True(big.TC);
        Assert.Empty(big.Answers);
    }

    [Fact]
    public async Task Relist_after_410_keeps_answering_and_sees_the_change_made_meanwhile()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        var relists = ClusterDns.Kubernetes.KubernetesMetrics.Relists.WithLabels("services").Value;
        await cluster.Emulator.StopAsync();
        cluster.Store.Apply(ClusterIpService("default", "during-outage", "10.96.7.7"));
        cluster.Store.Delete<V1Service>("default", "dual");
        cluster.Store.CompactHistory();

        // The API is down: the last known state keeps answering.
        Assert.Equal(["10.96.100.10"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("nginx-service.default.svc.cluster.local")));
        Assert.Equal(MessageStatus.NameError, (await cluster.QueryAsync("during-outage.default.svc.cluster.local")).Status);

        await cluster.Emulator.RestartAsync();
        var added = await cluster.WaitForAsync("during-outage.default.svc.cluster.local", DnsType.A, Has("10.96.7.7"), TimeSpan.FromSeconds(20));
        Assert.Equal(["10.96.7.7"], KubernetesTestCluster.Addresses(added));
        Assert.Equal(MessageStatus.NameError, (await cluster.WaitForAsync("dual.default.svc.cluster.local", DnsType.A, Status(MessageStatus.NameError))).Status);
        Assert.Equal(["10.96.100.10"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("nginx-service.default.svc.cluster.local")));
        Assert.True(ClusterDns.Kubernetes.KubernetesMetrics.Relists.WithLabels("services").Value > relists, "the services watch relisted after 410");
    }

    [Fact]
    public async Task Outage_keeps_the_last_state_and_a_restart_resumes_the_watch()
    {
        await using var cluster = await KubernetesTestCluster.StartAsync();
        await cluster.Emulator.StopAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(["10.244.1.20", "10.244.1.21"], KubernetesTestCluster.Addresses(await cluster.QueryAsync("web.default.svc.cluster.local")));
            await Task.Delay(300);
        }
        Assert.True(cluster.Server.Services.ReadinessReporters.Single(r => r.Name == "kubernetes").IsReady);

        await cluster.Emulator.RestartAsync();
        cluster.Store.Apply(ClusterIpService("default", "after-restart", "10.96.8.8"));
        var response = await cluster.WaitForAsync("after-restart.default.svc.cluster.local", DnsType.A, Has("10.96.8.8"), TimeSpan.FromSeconds(20));
        Assert.Equal(["10.96.8.8"], KubernetesTestCluster.Addresses(response));
    }

    [Fact]
    public async Task Unreachable_api_answers_SERVFAIL_not_ready_and_the_server_starts_within_the_startup_timeout()
    {
        // A port nothing listens on: reserve one, then free it.
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var server = await TestDnsServer.StartAsync(
            KubernetesTestCluster.Corefile(new Uri($"http://127.0.0.1:{port}"), zones: "cluster.local"));
        started.Stop();

        Assert.InRange(started.Elapsed, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8));
        var response = await server.QueryAsync("nginx-service.default.svc.cluster.local");
        Assert.Equal(MessageStatus.ServerFailure, response.Status);
        Assert.False(server.Services.ReadinessReporters.Single(r => r.Name == "kubernetes").IsReady);
    }

    [Fact]
    public async Task Ready_answers_503_while_the_server_waits_for_the_first_sync()
    {
        var emulator = await KubeApiEmulator.StartAsync(new KubeEmulatorOptions());
        var endpoint = emulator.BaseAddress;
        await emulator.StopAsync();
        var readyPort = OperationsTestKit.FreeTcpPort();
        try
        {
            var starting = TestDnsServer.StartAsync(
                $"cluster.local {{\n    ready 127.0.0.1:{readyPort}\n    kubernetes cluster.local {{\n        endpoint {endpoint}\n        startup_timeout 3s\n    }}\n}}\n");
            (HttpStatusCode Status, string Body)? duringWait = null;
            while (!starting.IsCompleted && duringWait is null)
            {
                try
                {
                    duringWait = await OperationsTestKit.GetAsync(readyPort, "/ready");
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(50); // the ready listener is not up yet
                }
            }
            await using var server = await starting;
            Assert.Equal((HttpStatusCode.ServiceUnavailable, "kubernetes"), duringWait);
        }
        finally
        {
            await emulator.DisposeAsync();
        }
    }

    [Fact]
    public async Task Becomes_ready_once_the_api_comes_up()
    {
        var emulator = await KubeApiEmulator.StartAsync(new KubeEmulatorOptions());
        ClusterFixtures.AddDemoCluster(emulator.Store);
        var endpoint = emulator.BaseAddress;
        await emulator.StopAsync();
        try
        {
            await using var server = await TestDnsServer.StartAsync(KubernetesTestCluster.Corefile(endpoint, "startup_timeout 1s", zones: "cluster.local"));
            Assert.Equal(MessageStatus.ServerFailure, (await server.QueryAsync("nginx-service.default.svc.cluster.local")).Status);

            await emulator.RestartAsync();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            Message response;
            do
            {
                await Task.Delay(100);
                response = await server.QueryAsync("nginx-service.default.svc.cluster.local");
            }
            while (response.Status != MessageStatus.NoError && DateTime.UtcNow < deadline);
            Assert.Equal(["10.96.100.10"], KubernetesTestCluster.Addresses(response));
            Assert.True(server.Services.ReadinessReporters.Single(r => r.Name == "kubernetes").IsReady);
        }
        finally
        {
            await emulator.DisposeAsync();
        }
    }
}
