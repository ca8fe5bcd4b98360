using ClusterDns.KubeEmulator;
using ClusterDns.Kubernetes;
using ClusterDns.Server.Hosting;

namespace ClusterDns;

/// <summary>
/// The demo: the embedded Kubernetes API emulator, loaded with sample objects, as the cluster the kubernetes plugin
/// lists and watches; the server serves Corefile.example against it, so dig answers with no cluster around.
/// </summary>
public sealed class DemoCluster : IAsyncDisposable
{
    private readonly KubeApiEmulator _emulator;

    private DemoCluster(KubeApiEmulator emulator) => _emulator = emulator;

    public static string ExampleCorefilePath => Path.Combine(AppContext.BaseDirectory, "Corefile.example");

    /// <summary>
    /// The Corefile the demo serves: Corefile.example, or with <c>-dns.port</c> a copy serving that port instead of 53
    /// (so the demo runs without the privilege port 53 needs).
    /// </summary>
    public static string PrepareCorefile(int? port)
    {
        if (port is null) return ExampleCorefilePath;
        var path = Path.Combine(Path.GetTempPath(), $"clusterdns-demo-{Environment.ProcessId}.Corefile");
        File.WriteAllText(path, File.ReadAllText(ExampleCorefilePath).Replace(".:53 {", $".:{port} {{", StringComparison.Ordinal));
        return path;
    }

    public Uri ApiAddress => _emulator.BaseAddress;

    public static async Task<DemoCluster> StartAsync(ServerServices services)
    {
        var emulator = await KubeApiEmulator.StartAsync(new KubeEmulatorOptions()).ConfigureAwait(false);
        ClusterFixtures.AddDemoCluster(emulator.Store);
        // A Corefile naming no endpoint or kubeconfig would use in-cluster config; the demo points it here instead.
        services.SetExtension(new KubernetesConnectionDefaults(emulator.BaseAddress.ToString()));
        return new DemoCluster(emulator);
    }

    public void PrintInstructions(int port)
    {
        var at = port == 53 ? "@127.0.0.1" : $"@127.0.0.1 -p {port}";
        Console.WriteLine($"""

            Demo cluster (Kubernetes API emulator) at {ApiAddress}: try
              dig {at} nginx-service.default.svc.cluster.local
              dig {at} web.default.svc.cluster.local
              dig {at} _http._tcp.web.default.svc.cluster.local SRV
              dig {at} search-engine.default.svc.cluster.local
              dig {at} -x 10.96.0.10
              kubectl --server {ApiAddress} get services -A
            """);
    }

    public ValueTask DisposeAsync() => _emulator.DisposeAsync();
}
