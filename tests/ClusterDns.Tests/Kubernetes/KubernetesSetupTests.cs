using ClusterDns.Kubernetes;
using ClusterDns.Server.Corefile;
using ClusterDns.Tests.Infrastructure;

namespace ClusterDns.Tests.Kubernetes;

public sealed class KubernetesSetupTests
{
    private static KubernetesOptions Parse(string block, string keys = "cluster.local in-addr.arpa ip6.arpa", string arguments = "")
    {
        var text = $"{keys} {{\n    kubernetes {arguments} {{\n{block}\n    }}\n}}\n";
        var document = CorefileParser.Parse(text, "Corefile");
        var server = document.ServerBlocks[0];
        var zones = server.Keys.Select(k => k.Zone).ToList();
        return KubernetesSetup.Parse(server.Directives[0], zones);
    }

    [Fact]
    public void Defaults_follow_CoreDNS()
    {
        var options = Parse("");

        Assert.Equal(["cluster.local.", "in-addr.arpa.", "ip6.arpa."], options.Zones);
        Assert.Equal("cluster.local.", options.PrimaryZone);
        Assert.Equal(5u, options.Ttl);
        Assert.Equal(PodMode.Disabled, options.Pods);
        Assert.Null(options.Fallthrough);
        Assert.Null(options.Namespaces);
        Assert.False(options.WatchPods);
        Assert.Equal(TimeSpan.FromSeconds(5), options.StartupTimeout);
    }

    [Fact]
    public void Every_option_is_read()
    {
        var options = Parse("""
                    endpoint https://10.0.0.1:6443
                    tls /c.pem /k.pem /ca.pem
                    namespaces default kube-system
                    labels environment in (production, staging)
                    pods verified
                    endpoint_pod_names
                    ttl 30
                    noendpoints
                    fallthrough in-addr.arpa ip6.arpa
                    ignore empty_service
                    startup_timeout 2s
            """, arguments: "cluster.local 10.0.0.0/8 ip6.arpa");

        Assert.Equal(["cluster.local.", "10.in-addr.arpa.", "ip6.arpa."], options.Zones);
        Assert.Equal("https://10.0.0.1:6443", options.Endpoint);
        Assert.Equal(new KubernetesTlsFiles("/c.pem", "/k.pem", "/ca.pem"), options.Tls);
        Assert.True(options.Namespaces!.SetEquals(["default", "kube-system"]));
        Assert.Equal("environment in (production, staging)", options.LabelSelector);
        Assert.Equal(PodMode.Verified, options.Pods);
        Assert.True(options.WatchPods);
        Assert.True(options.EndpointPodNames);
        Assert.Equal(30u, options.Ttl);
        Assert.True(options.NoEndpoints);
        Assert.Equal(["in-addr.arpa.", "ip6.arpa."], options.Fallthrough);
        Assert.True(options.IgnoreEmptyService);
        Assert.Equal(TimeSpan.FromSeconds(2), options.StartupTimeout);
    }

    [Fact]
    public void Fallthrough_without_zones_covers_every_zone()
    {
        Assert.Empty(Parse("fallthrough").Fallthrough!);
    }

    [Fact]
    public void Namespace_labels_watches_namespaces()
    {
        var options = Parse("namespace_labels team=dns");
        Assert.Equal("team=dns", options.NamespaceLabelSelector);
        Assert.True(options.WatchNamespaces);
    }

    [Theory]
    [InlineData("ttl 3601", "out of range")]
    [InlineData("ttl -1", "out of range")]
    [InlineData("pods sometimes", "invalid pods mode")]
    [InlineData("endpoint ftp://x", "invalid endpoint")]
    [InlineData("endpoint", "missing argument")]
    [InlineData("tls a b", "at least 3")]
    [InlineData("ignore everything", "ignore value")]
    [InlineData("noendpoints please", "unexpected argument")]
    [InlineData("resyncperiod 30s", "unknown property")]
    [InlineData("namespaces", "missing argument")]
    public async Task Bad_options_fail_with_file_and_line(string line, string message)
    {
        var corefile = $"cluster.local {{\n    kubernetes {{\n        endpoint http://127.0.0.1:1\n        {line}\n    }}\n}}\n";

        var error = await TestDnsServer.StartExpectingErrorAsync(corefile);

        Assert.EndsWith("Corefile", error.File);
        Assert.Equal(4, error.Line);
        Assert.Contains(message, error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Only_reverse_zones_is_an_error()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync("in-addr.arpa {\n    kubernetes\n}\n");

        Assert.Equal(2, error.Line);
        Assert.Contains("reverse", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_kubernetes_lines_in_a_block_are_an_error()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync("cluster.local {\n    kubernetes\n    kubernetes\n}\n");

        Assert.Equal(3, error.Line);
    }
}
