using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ClusterDns.Tests.Infrastructure;

namespace ClusterDns.EndToEnd.Tests.Upstream;

/// <summary>
/// A real resolver (unbound) serving a static <c>example.test.</c> zone on a free loopback port, started for a test
/// and killed by its process ID at the end.
/// </summary>
public sealed class RealResolver : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private RealResolver(Process process, string directory, int port, int? tlsPort)
    {
        _process = process;
        _directory = directory;
        Port = port;
        TlsPort = tlsPort;
    }

    public int Port { get; }
    /// <summary>The DNS-over-TLS port, when started with a certificate.</summary>
    public int? TlsPort { get; }
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>Starts unbound with the given local-data lines (<c>"www.example.test. 300 IN A 192.0.2.1"</c>).</summary>
    public static Task<RealResolver> StartUnboundAsync(params string[] records) => StartUnboundAsync(null, records);

    /// <summary>
    /// Starts unbound that also serves DNS over TLS with the PEM certificate and key (<paramref name="tls"/>) on
    /// <see cref="TlsPort"/>.
    /// </summary>
    public static async Task<RealResolver> StartUnboundAsync((string CertificatePem, string KeyPem)? tls, params string[] records)
    {
        var directory = Path.Combine(Path.GetTempPath(), "clusterdns-unbound-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var port = FreePort();
        var lines = new List<string>
        {
            "server:",
            "  interface: 127.0.0.1",
            $"  port: {port}",
            "  do-daemonize: no",
            "  chroot: \"\"",
            "  username: \"\"",
            "  pidfile: \"\"",
            $"  directory: \"{directory}\"",
            "  use-syslog: no",
            "  logfile: \"\"",
            "  verbosity: 0",
            "  do-ip6: no",
            "  access-control: 127.0.0.0/8 allow",
            "  num-threads: 1",
            "  local-zone: \"example.test.\" static",
            "  local-data: \"example.test. 3600 IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 60\"",
            "  local-data: \"example.test. 3600 IN NS ns.example.test.\"",
            "  local-zone: \".\" static",
        };
        foreach (var record in records) lines.Add($"  local-data: \"{record}\"");
        int? tlsPort = null;
        if (tls is { } pem)
        {
            tlsPort = FreePort();
            lines.Add($"  interface: 127.0.0.1@{tlsPort}");
            lines.Add($"  tls-port: {tlsPort}");
            lines.Add($"  tls-service-pem: \"{pem.CertificatePem}\"");
            lines.Add($"  tls-service-key: \"{pem.KeyPem}\"");
        }
        lines.Add("remote-control:");
        lines.Add("  control-enable: no");
        var config = Path.Combine(directory, "unbound.conf");
        await File.WriteAllLinesAsync(config, lines);
        var info = new ProcessStartInfo("/usr/sbin/unbound") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add("-d");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(config);
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start unbound");
        var resolver = new RealResolver(process, directory, port, tlsPort);
        await resolver.WaitUntilAnsweringAsync();
        return resolver;
    }

    private async Task WaitUntilAnsweringAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException("unbound exited: " + await _process.StandardError.ReadToEndAsync());
            try
            {
                var reply = await DnsTestClient.ExchangeUdpAsync(EndPoint, DnsTestClient.BuildQuery("example.test", Makaretu.Dns.DnsType.SOA), TimeSpan.FromMilliseconds(200));
                if (reply is not null) return;
            }
            catch (SocketException)
            {
                await Task.Delay(50); // not listening yet
            }
        }
        throw new TimeoutException("unbound did not start answering");
    }

    /// <summary>Stops the resolver (for tests of a dead upstream); its port stays known.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public static int FreePort()
    {
        // A port free for both UDP and TCP on loopback right now.
        for (var attempt = 0; ; attempt++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            try
            {
                using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
