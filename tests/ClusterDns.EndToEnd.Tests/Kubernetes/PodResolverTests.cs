using ClusterDns.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ClusterDns.EndToEnd.Tests.Kubernetes;

/// <summary>
/// A pod's view through glibc: a network namespace whose /etc/netns/NAME/resolv.conf is a pod's (the cluster search
/// path, ndots:5), with the API emulator and the built ClusterDns binary running inside it on 127.0.0.1:53, and
/// <c>getent</c> resolving short Service names the way an application in a pod would.
/// </summary>
public sealed class PodResolverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int ApiPort = 16443;
    private PodNetworkNamespace? _pod;
    private string? _skipReason;

    public async Task InitializeAsync()
    {
        (_pod, _skipReason) = await PodNetworkNamespace.CreateAsync("cdns-", output);
        if (_pod is null) return;
        var corefile = Path.Combine(_pod.WorkDirectory, "Corefile");
        await File.WriteAllTextAsync(corefile,
            $".:53 {{\n    kubernetes cluster.local in-addr.arpa ip6.arpa {{\n        endpoint http://127.0.0.1:{ApiPort}\n        pods insecure\n    }}\n}}\n");

        _pod.StartDotnet(PodNetworkNamespace.BuildOutput("ClusterDns.KubeEmulator", "ClusterDns.KubeEmulator.dll"), "--demo", "--port", ApiPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        _pod.StartDotnet(PodNetworkNamespace.BuildOutput("ClusterDns", "ClusterDns.dll"), "-conf", corefile);
    }

    private Task<ProcessRunner.Result> GetentAsync(string database, string name) => _pod!.RunAsync("getent", database, name);

    /// <summary>getent until it succeeds (the server and the emulator start in the background), within a deadline.</summary>
    private async Task<ProcessRunner.Result> GetentUntilFoundAsync(string database, string name)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var result = await GetentAsync(database, name);
            if (result.ExitCode == 0 || DateTime.UtcNow > deadline) return result;
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task Short_service_names_resolve_through_the_pod_search_path()
    {
        if (_skipReason is not null)
        {
            output.WriteLine("NOT RUN: " + _skipReason);
            return;
        }

        var shortName = await GetentUntilFoundAsync("hosts", "nginx-service");
        Assert.True(shortName.ExitCode == 0, "getent hosts nginx-service failed: " + shortName.Error);
        Assert.Equal(["10.96.100.10"], PodNetworkNamespace.AddressesOf(shortName.Output));
        Assert.Contains("nginx-service.default.svc.cluster.local", shortName.Output, StringComparison.Ordinal);

        var withNamespace = await GetentAsync("hosts", "nginx-service.default");
        Assert.Equal(0, withNamespace.ExitCode);
        Assert.Equal(["10.96.100.10"], PodNetworkNamespace.AddressesOf(withNamespace.Output));

        var otherNamespace = await GetentAsync("hosts", "api.demo");
        Assert.Equal(0, otherNamespace.ExitCode);
        Assert.Equal(["10.96.200.10"], PodNetworkNamespace.AddressesOf(otherNamespace.Output));

        var headless = await GetentAsync("ahosts", "web");
        Assert.Equal(0, headless.ExitCode);
        Assert.Equal(["10.244.1.20", "10.244.1.21"], PodNetworkNamespace.AddressesOf(headless.Output));

        var dual = await GetentAsync("ahosts", "dual");
        Assert.Equal(0, dual.ExitCode);
        Assert.Equal(["10.96.100.20", "fd00:10:96::20"], PodNetworkNamespace.AddressesOf(dual.Output));

        var missing = await GetentAsync("hosts", "no-such-service");
        Assert.NotEqual(0, missing.ExitCode);
    }

    public async Task DisposeAsync()
    {
        if (_pod is not null) await _pod.DisposeAsync();
    }
}
