using ClusterDns.KubeEmulator;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Kubernetes;

/// <summary>The API emulator with the demo cluster, and the real server serving it through the kubernetes plugin.</summary>
public sealed class KubernetesTestCluster : IAsyncDisposable
{
    private KubernetesTestCluster(KubeApiEmulator emulator, TestDnsServer server)
    {
        Emulator = emulator;
        Server = server;
    }

    public KubeApiEmulator Emulator { get; }
    public TestDnsServer Server { get; }
    public ClusterStore Store => Emulator.Store;

    public static string Corefile(Uri endpoint, string options = "", string zones = "cluster.local in-addr.arpa ip6.arpa") =>
        $"cluster.local in-addr.arpa ip6.arpa {{\n    kubernetes {zones} {{\n        endpoint {endpoint}\n        {options}\n    }}\n}}\n";

    public static async Task<KubernetesTestCluster> StartAsync(string options = "", bool demo = true, Func<Uri, string>? corefile = null)
    {
        var emulator = await KubeApiEmulator.StartAsync(new KubeEmulatorOptions { BookmarkInterval = TimeSpan.FromMilliseconds(500) });
        try
        {
            if (demo) ClusterFixtures.AddDemoCluster(emulator.Store);
            var server = await TestDnsServer.StartAsync(corefile?.Invoke(emulator.BaseAddress) ?? Corefile(emulator.BaseAddress, options));
            return new KubernetesTestCluster(emulator, server);
        }
        catch
        {
            await emulator.DisposeAsync();
            throw;
        }
    }

    public Task<Message> QueryAsync(string name, DnsType type = DnsType.A, bool tcp = false) => Server.QueryAsync(name, type, tcp);

    /// <summary>Queries until <paramref name="condition"/> holds or the deadline passes; returns the last answer.</summary>
    public async Task<Message> WaitForAsync(string name, DnsType type, Func<Message, bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var response = await QueryAsync(name, type);
            if (condition(response) || DateTime.UtcNow > deadline) return response;
            await Task.Delay(50);
        }
    }

    public static IReadOnlyList<string> Addresses(Message response)
    {
        var list = new List<string>();
        foreach (var record in response.Answers)
        {
            if (record is AddressRecord address) list.Add(address.Address.ToString());
        }
        list.Sort(StringComparer.Ordinal);
        return list;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Emulator.DisposeAsync();
    }
}
