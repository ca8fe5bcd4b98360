using System.Net;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Pipeline;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClusterDns.Tests.Infrastructure;

/// <summary>
/// The real server, in process, serving a Corefile on 127.0.0.1 with a free port (keys without a port get it), so a
/// test queries it over real UDP and TCP sockets.
/// </summary>
public sealed class TestDnsServer : IAsyncDisposable
{
    private TestDnsServer(DnsServerHost host, string directory)
    {
        Host = host;
        Directory = directory;
    }

    public DnsServerHost Host { get; }
    public ServerServices Services => Host.Services;
    /// <summary>A temporary folder holding the Corefile; removed on dispose.</summary>
    public string Directory { get; }
    public string CorefilePath => Path.Combine(Directory, "Corefile");
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Host.UdpEndPoints[0].Port);
    public int Port => Host.UdpEndPoints[0].Port;

    /// <summary>
    /// Starts the server. The host picks a free UDP port and then binds TCP on the same number, which another process
    /// (parallel test assemblies) can hold: then it starts again, on a new free port.
    /// </summary>
    public static Task<TestDnsServer> StartAsync(string corefile, PluginCatalog? catalog = null, Action<ServerServices>? configure = null,
        ILoggerFactory? loggerFactory = null, DnsServerHostOptions? options = null) =>
        RetryWhileAddressInUseAsync(() => StartOnceAsync(corefile, catalog, configure, loggerFactory, options));

    /// <summary>
    /// Starts a Corefile that names its own port (loop probes it, forward may point at it): each attempt picks a new
    /// free port, since one a parallel test's connection took stays taken.
    /// </summary>
    public static Task<TestDnsServer> StartOnFreePortAsync(Func<int, string> corefile, Action<ServerServices>? configure = null,
        ILoggerFactory? loggerFactory = null) =>
        RetryWhileAddressInUseAsync(() => StartOnceAsync(corefile(FreeUdpPort()), null, configure, loggerFactory, null));

    private static async Task<TestDnsServer> RetryWhileAddressInUseAsync(Func<Task<TestDnsServer>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start();
            }
            catch (System.Net.Sockets.SocketException exception) when (exception.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse && attempt < 5)
            {
            }
        }
    }

    private static int FreeUdpPort()
    {
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram,
            System.Net.Sockets.ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static async Task<TestDnsServer> StartOnceAsync(string corefile, PluginCatalog? catalog, Action<ServerServices>? configure,
        ILoggerFactory? loggerFactory, DnsServerHostOptions? options)
    {
        var directory = Path.Combine(Path.GetTempPath(), "clusterdns-test-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "Corefile");
        await File.WriteAllTextAsync(path, corefile);
        var services = new ServerServices(loggerFactory ?? NullLoggerFactory.Instance, random: new Random(1234));
        configure?.Invoke(services);
        var host = new DnsServerHost(catalog ?? ClusterDns.PluginRegistration.CreateCatalog(), services,
            options ?? new DnsServerHostOptions { DefaultPort = 0, UdpSocketsPerAddress = 1 });
        try
        {
            await host.StartFromFileAsync(path);
        }
        catch
        {
            await host.DisposeAsync();
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
        return new TestDnsServer(host, directory);
    }

    /// <summary>Parses Corefile text the way the server would, for tests that expect a setup error.</summary>
    public static async Task<CorefileException> StartExpectingErrorAsync(string corefile, PluginCatalog? catalog = null)
    {
        try
        {
            await using var server = await StartAsync(corefile, catalog);
        }
        catch (CorefileException exception)
        {
            return exception;
        }
        throw new Xunit.Sdk.XunitException("the Corefile was accepted");
    }

    public Task<Makaretu.Dns.Message> QueryAsync(string name, Makaretu.Dns.DnsType type = Makaretu.Dns.DnsType.A, bool tcp = false, ushort? udpSize = null) =>
        DnsTestClient.QueryAsync(EndPoint, name, type, tcp, udpSize);

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
