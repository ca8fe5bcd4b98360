using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Kubernetes;

/// <summary>What a client sees for every record kind of the demo cluster (emulator + real KubernetesClient + real server).</summary>
public sealed class KubernetesAnswerTests : IAsyncLifetime
{
    private KubernetesTestCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await KubernetesTestCluster.StartAsync();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Theory]
    [InlineData("nginx-service.default.svc.cluster.local", DnsType.A, "10.96.100.10")]
    [InlineData("kube-dns.kube-system.svc.cluster.local", DnsType.A, "10.96.0.10")]
    [InlineData("dual.default.svc.cluster.local", DnsType.A, "10.96.100.20")]
    [InlineData("dual.default.svc.cluster.local", DnsType.AAAA, "fd00:10:96::20")]
    [InlineData("web.default.svc.cluster.local", DnsType.A, "10.244.1.20,10.244.1.21")]
    [InlineData("web-0.web.default.svc.cluster.local", DnsType.A, "10.244.1.20")]
    [InlineData("10-244-1-10.nginx-service.default.svc.cluster.local", DnsType.A, "10.244.1.10")]
    [InlineData("ns.dns.cluster.local", DnsType.A, "10.96.0.10")]
    public async Task Address_records(string name, DnsType type, string expected)
    {
        var response = await _cluster.QueryAsync(name, type);

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.True(response.AA);
        Assert.Equal(expected.Split(','), KubernetesTestCluster.Addresses(response));
        Assert.All(response.Answers, record => Assert.Equal(TimeSpan.FromSeconds(5), record.TTL));
    }

    [Fact]
    public async Task Names_match_case_insensitively_and_echo_the_query_case()
    {
        var response = await _cluster.QueryAsync("NGINX-Service.Default.SVC.Cluster.Local", DnsType.A);

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.Equal("NGINX-Service.Default.SVC.Cluster.Local", response.Questions[0].Name.ToString());
        var answer = Assert.IsType<ARecord>(Assert.Single(response.Answers));
        Assert.Equal("NGINX-Service.Default.SVC.Cluster.Local", answer.Name.ToString());
        Assert.Equal("10.96.100.10", answer.Address.ToString());
    }

    [Theory]
    [InlineData("missing.default.svc.cluster.local")]
    [InlineData("nginx-service.nowhere.svc.cluster.local")]
    [InlineData("web-9.web.default.svc.cluster.local")]
    [InlineData("foo.cluster.local")]
    [InlineData("10-244-1-10.default.pod.cluster.local")] // pods disabled (the default)
    [InlineData("99.99.96.10.in-addr.arpa")]
    public async Task Names_that_do_not_exist_are_NXDOMAIN_with_the_SOA(string name)
    {
        var response = await _cluster.QueryAsync(name, DnsType.A);

        Assert.Equal(MessageStatus.NameError, response.Status);
        Assert.True(response.AA);
        Assert.Empty(response.Answers);
        var soa = Assert.IsType<SOARecord>(Assert.Single(response.AuthorityRecords));
        Assert.Equal(TimeSpan.FromSeconds(5), soa.TTL);
    }

    [Theory]
    [InlineData("nginx-service.default.svc.cluster.local", DnsType.AAAA)]
    [InlineData("nginx-service.default.svc.cluster.local", DnsType.TXT)]
    [InlineData("svc.cluster.local", DnsType.A)]
    [InlineData("default.svc.cluster.local", DnsType.A)]
    [InlineData("_tcp.nginx-service.default.svc.cluster.local", DnsType.SRV)]
    [InlineData("cluster.local", DnsType.A)]
    [InlineData("96.10.in-addr.arpa", DnsType.PTR)]
    public async Task Names_that_exist_without_the_type_are_NODATA_with_the_SOA(string name, DnsType type)
    {
        var response = await _cluster.QueryAsync(name, type);

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.True(response.AA);
        Assert.Empty(response.Answers);
        var soa = Assert.IsType<SOARecord>(Assert.Single(response.AuthorityRecords));
        Assert.EndsWith(soa.Name.ToString().Contains("arpa", StringComparison.Ordinal) ? "in-addr.arpa" : "cluster.local", soa.Name.ToString());
    }

    [Fact]
    public async Task Soa_and_ns_at_the_apex_as_CoreDNS_writes_them()
    {
        var soaResponse = await _cluster.QueryAsync("cluster.local", DnsType.SOA);
        var soa = Assert.IsType<SOARecord>(Assert.Single(soaResponse.Answers));
        Assert.True(soaResponse.AA);
        Assert.Equal("ns.dns.cluster.local", soa.PrimaryName.ToString());
        Assert.Equal("hostmaster.cluster.local", soa.Mailbox.ToString());
        Assert.Equal(TimeSpan.FromSeconds(7200), soa.Refresh);
        Assert.Equal(TimeSpan.FromSeconds(1800), soa.Retry);
        Assert.Equal(TimeSpan.FromSeconds(86400), soa.Expire);
        Assert.Equal(TimeSpan.FromSeconds(5), soa.Minimum);
        Assert.True(soa.SerialNumber > 1_700_000_000);

        var nsResponse = await _cluster.QueryAsync("cluster.local", DnsType.NS);
        var ns = Assert.IsType<NSRecord>(Assert.Single(nsResponse.Answers));
        Assert.Equal("ns.dns.cluster.local", ns.Authority.ToString());
        var glue = Assert.IsType<ARecord>(Assert.Single(nsResponse.AdditionalRecords));
        Assert.Equal("10.96.0.10", glue.Address.ToString());
    }

    [Fact]
    public async Task Srv_for_a_named_port_of_a_ClusterIP_service()
    {
        var response = await _cluster.QueryAsync("_http._tcp.nginx-service.default.svc.cluster.local", DnsType.SRV);

        Assert.Equal(MessageStatus.NoError, response.Status);
        var srv = Assert.IsType<SRVRecord>(Assert.Single(response.Answers));
        Assert.Equal(80, srv.Port);
        Assert.Equal(0, srv.Priority);
        Assert.Equal(100, srv.Weight);
        Assert.Equal("nginx-service.default.svc.cluster.local", srv.Target.ToString());
        var glue = Assert.IsType<ARecord>(Assert.Single(response.AdditionalRecords));
        Assert.Equal("nginx-service.default.svc.cluster.local", glue.Name.ToString());
        Assert.Equal("10.96.100.10", glue.Address.ToString());
    }

    [Fact]
    public async Task Srv_for_a_headless_service_has_one_target_per_endpoint_with_its_address()
    {
        var response = await _cluster.QueryAsync("_http._tcp.web.default.svc.cluster.local", DnsType.SRV);

        Assert.Equal(MessageStatus.NoError, response.Status);
        var targets = response.Answers.OfType<SRVRecord>().Select(s => s.Target.ToString()).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["web-0.web.default.svc.cluster.local", "web-1.web.default.svc.cluster.local"], targets);
        Assert.All(response.Answers.OfType<SRVRecord>(), s => Assert.Equal(50, s.Weight));
        var glue = response.AdditionalRecords.OfType<ARecord>().Select(a => $"{a.Name}={a.Address}").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["web-0.web.default.svc.cluster.local=10.244.1.20", "web-1.web.default.svc.cluster.local=10.244.1.21"], glue);
    }

    [Fact]
    public async Task Plain_srv_on_the_service_name_lists_every_port()
    {
        var response = await _cluster.QueryAsync("kube-dns.kube-system.svc.cluster.local", DnsType.SRV);

        // dns (UDP) and dns-tcp (TCP) give the same SRV record: an RRset holds it once (RFC 2181 5), weight 100/3.
        var ports = response.Answers.OfType<SRVRecord>().Select(s => (int)s.Port).Order().ToArray();
        Assert.Equal([53, 9153], ports);
        Assert.All(response.Answers.OfType<SRVRecord>(), s => Assert.Equal(33, s.Weight));
        Assert.All(response.Answers.OfType<SRVRecord>(), s => Assert.Equal("kube-dns.kube-system.svc.cluster.local", s.Target.ToString()));
    }

    [Theory]
    [InlineData("10.100.96.10.in-addr.arpa", "nginx-service.default.svc.cluster.local")]
    [InlineData("20.1.244.10.in-addr.arpa", "web-0.web.default.svc.cluster.local")]
    [InlineData("10.1.244.10.in-addr.arpa", "10-244-1-10.nginx-service.default.svc.cluster.local")]
    [InlineData("0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa", "dual.default.svc.cluster.local")]
    public async Task Ptr_for_service_and_endpoint_addresses(string name, string target)
    {
        var response = await _cluster.QueryAsync(name, DnsType.PTR);

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.True(response.AA);
        var ptr = Assert.IsType<PTRRecord>(Assert.Single(response.Answers));
        Assert.Equal(target, ptr.DomainName.ToString());
    }

    [Theory]
    [InlineData(DnsType.A)]
    [InlineData(DnsType.CNAME)]
    [InlineData(DnsType.AAAA)]
    public async Task ExternalName_is_a_CNAME_to_its_target(DnsType type)
    {
        var response = await _cluster.QueryAsync("search-engine.default.svc.cluster.local", type);

        Assert.Equal(MessageStatus.NoError, response.Status);
        var cname = Assert.IsType<CNAMERecord>(Assert.Single(response.Answers));
        Assert.Equal("www.example.com", cname.Target.ToString());
    }

    [Fact]
    public async Task Dns_version_is_1_1_0()
    {
        var response = await _cluster.QueryAsync("dns-version.cluster.local", DnsType.TXT);

        var txt = Assert.IsType<TXTRecord>(Assert.Single(response.Answers));
        Assert.Equal(["1.1.0"], txt.Strings);
    }

    [Fact]
    public async Task Tcp_answers_the_same()
    {
        var response = await _cluster.QueryAsync("web.default.svc.cluster.local", DnsType.A, tcp: true);

        Assert.Equal(["10.244.1.20", "10.244.1.21"], KubernetesTestCluster.Addresses(response));
    }

    [Fact]
    public async Task Reports_ready_and_a_version_for_the_cache()
    {
        var reporter = Assert.Single(_cluster.Server.Services.ReadinessReporters, r => r.Name == "kubernetes");
        Assert.True(reporter.IsReady);
        var version = Assert.IsAssignableFrom<ClusterDns.Server.Pipeline.IZoneDataVersion>(reporter);
        Assert.Contains("cluster.local.", version.Zones);
        Assert.True(version.Version > 0);
        await Task.CompletedTask;
    }
}
