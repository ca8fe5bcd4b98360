using System.Globalization;
using ClusterDns.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ClusterDns.EndToEnd.Tests.Kubernetes;

/// <summary>
/// autopath as a Pod sees it: glibc's <c>getent</c> in a network namespace with a Pod's resolv.conf (search path,
/// ndots:5), the emulator holding a Pod whose IP is the namespace's 127.0.0.1 (the address glibc sends from), and
/// the built server counting what it receives (coredns_dns_requests_total). One external lookup, once with
/// autopath and once without: the same addresses, and far fewer queries with it.
/// </summary>
public sealed class AutoPathPodResolverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int ApiPort = 20443;
    private const int MetricsPort = 20153;
    private const string PodFixture = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: client
          namespace: default
        spec:
          containers:
          - name: c
            image: busybox
        status:
          phase: Running
          podIP: 127.0.0.1
          podIPs:
          - ip: 127.0.0.1
        """;

    private PodNetworkNamespace? _pod;
    private string? _skipReason;

    public async Task InitializeAsync()
    {
        (_pod, _skipReason) = await PodNetworkNamespace.CreateAsync("cdns-ap-", output, "curl");
        if (_pod is null) return;
        var fixture = Path.Combine(_pod.WorkDirectory, "pod.yaml");
        await File.WriteAllTextAsync(fixture, PodFixture);
        _pod.StartDotnet(PodNetworkNamespace.BuildOutput("ClusterDns.KubeEmulator", "ClusterDns.KubeEmulator.dll"), "--demo", "--fixture", fixture,
            "--port", ApiPort.ToString(CultureInfo.InvariantCulture));
    }

    private static string Corefile(bool autopath) => $$"""
        .:53 {
            prometheus 127.0.0.1:{{MetricsPort}}
            cache 30
            {{(autopath ? "autopath @kubernetes" : "")}}
            hosts {
                192.0.2.7 external.example
                2001:db8::7 external.example
                fallthrough
            }
            kubernetes cluster.local in-addr.arpa ip6.arpa {
                endpoint http://127.0.0.1:{{ApiPort}}
                pods verified
            }
        }
        """;

    /// <summary>Every query the server has received so far: the sum of coredns_dns_requests_total.</summary>
    private async Task<double> RequestsAsync()
    {
        var metrics = await _pod!.RunAsync("curl", "-sf", $"http://127.0.0.1:{MetricsPort}/metrics");
        Assert.True(metrics.ExitCode == 0, "metrics: " + metrics.Error);
        double total = 0;
        foreach (var line in metrics.Output.Split('\n'))
        {
            if (!line.StartsWith("coredns_dns_requests_total{", StringComparison.Ordinal)) continue;
            total += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }
        return total;
    }

    /// <summary>Runs a server with or without autopath; returns the addresses and the queries of one external lookup.</summary>
    private async Task<(string[] Addresses, double Queries)> LookUpExternalNameAsync(bool autopath)
    {
        var corefile = Path.Combine(_pod!.WorkDirectory, autopath ? "Corefile.autopath" : "Corefile.plain");
        await File.WriteAllTextAsync(corefile, Corefile(autopath));
        var server = _pod.StartDotnet(PodNetworkNamespace.BuildOutput("ClusterDns", "ClusterDns.dll"), "-conf", corefile);
        try
        {
            // Serving and synced (the Pod informer too: cluster names are SERVFAIL until every informer listed).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await _pod!.RunAsync("getent", "hosts", "nginx-service")).ExitCode != 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the server did not start answering");
                await Task.Delay(250);
            }
            var before = await RequestsAsync();
            var lookup = await _pod!.RunAsync("getent", "ahosts", "external.example");
            var queries = await RequestsAsync() - before;
            Assert.True(lookup.ExitCode == 0, "getent ahosts external.example: " + lookup.Error);
            return (PodNetworkNamespace.AddressesOf(lookup.Output), queries);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task One_external_lookup_costs_one_query_per_address_type_with_autopath()
    {
        if (_skipReason is not null)
        {
            output.WriteLine("NOT RUN: " + _skipReason);
            return;
        }

        var plain = await LookUpExternalNameAsync(autopath: false);
        var autopath = await LookUpExternalNameAsync(autopath: true);
        output.WriteLine($"queries for one getent ahosts external.example: {plain.Queries} without autopath, {autopath.Queries} with");

        Assert.Equal(["192.0.2.7", "2001:db8::7"], plain.Addresses);
        Assert.Equal(plain.Addresses, autopath.Addresses);
        Assert.Equal(2, autopath.Queries); // A and AAAA of external.example.default.svc.cluster.local, nothing more
        Assert.True(plain.Queries > autopath.Queries, $"{plain.Queries} queries without autopath, {autopath.Queries} with");
    }

    public async Task DisposeAsync()
    {
        if (_pod is not null) await _pod.DisposeAsync();
    }
}
