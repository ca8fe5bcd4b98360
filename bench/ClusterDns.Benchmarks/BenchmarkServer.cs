using ClusterDns.KubeEmulator;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClusterDns.Benchmarks;

/// <summary>
/// The real engine on a Corefile: the API emulator with a synthetic cluster of 1,000 Services behind the kubernetes
/// plugin, and example.org through cache in front of a stand-in upstream. Queries go straight into the pipeline
/// (<see cref="DnsQueryProcessor"/>), so a measurement holds everything but the socket. The metrics ports are fixed
/// (the HTTP listener cannot take port 0), so one benchmark process runs at a time.
/// </summary>
public sealed class BenchmarkServer : IAsyncDisposable
{
    private readonly KubeApiEmulator _emulator;
    private readonly DnsServerHost _host;
    private readonly string _directory;

    private BenchmarkServer(KubeApiEmulator emulator, DnsServerHost host, string directory)
    {
        _emulator = emulator;
        _host = host;
        _directory = directory;
        Router = host.Current!.Routers.Values.First();
    }

    public DnsQueryProcessor Processor { get; } = new(NullLogger.Instance);
    public ZoneRouter Router { get; }
    public IReadOnlyList<DnsPlugin> Plugins => _host.Current!.Plugins;

    public static async Task<BenchmarkServer> StartAsync()
    {
        var emulator = await KubeApiEmulator.StartAsync(new KubeEmulatorOptions());
        ClusterFixtures.AddSyntheticCluster(emulator.Store, 10, 100, 1);
        var directory = Path.Combine(Path.GetTempPath(), "clusterdns-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var corefile = Path.Combine(directory, "Corefile");
        await File.WriteAllTextAsync(corefile, $$"""
            cluster.local in-addr.arpa ip6.arpa {
                errors
                prometheus 127.0.0.1:21153
                kubernetes cluster.local in-addr.arpa ip6.arpa {
                    endpoint {{emulator.BaseAddress}}
                }
            }
            example.org {
                errors
                prometheus 127.0.0.1:21154
                cache 300
                whoami
            }
            """);
        var catalog = PluginRegistration.CreateCatalog().Set(StandInUpstream.Definition);
        var host = new DnsServerHost(catalog, new ServerServices(NullLoggerFactory.Instance, random: new Random(1)),
            new DnsServerHostOptions { DefaultPort = 0, UdpSocketsPerAddress = 1 });
        await host.StartFromFileAsync(corefile);
        var server = new BenchmarkServer(emulator, host, directory);
        await server.WaitForSyncAsync();
        return server;
    }

    /// <summary>Runs one query through the pipeline; it must complete synchronously, as cluster names and cache hits do.</summary>
    public void Serve(DnsRequestContext request, int length, IDnsResponseWriter writer)
    {
        request.Reset(length, DnsTransport.Udp, null, 53, CancellationToken.None);
        var pending = Processor.ProcessAsync(request, Router, writer);
        if (!pending.IsCompletedSuccessfully) throw new InvalidOperationException("the query went asynchronous");
    }

    private async Task WaitForSyncAsync()
    {
        using var request = new DnsRequestContext();
        var writer = new TransportWriter();
        var query = Queries.Build("svc-1.ns-1.svc.cluster.local.", Makaretu.Dns.DnsType.A);
        query.CopyTo(request.QueryBuffer, 0);
        for (var attempt = 0; attempt < 300; attempt++)
        {
            Serve(request, query.Length, writer);
            if (writer.LastRcode == DnsRcode.NoError) return;
            await Task.Delay(100);
        }
        throw new InvalidOperationException("the kubernetes plugin did not sync");
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        await _emulator.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
