using System.Globalization;
using System.Runtime.InteropServices;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Plugins;
using ClusterDns.Server.Plugins.Reload;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Plugins.Operations;
using Makaretu.Dns;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClusterDns.Tests.Plugins.Reload;

/// <summary>
/// The Corefile mounted from a ConfigMap, laid out as the kubelet does: Corefile -> ..data/Corefile,
/// ..data -> ..2026_&lt;n&gt;/, and an update is a new timestamped folder and an atomic rename of a new ..data link.
/// </summary>
public sealed class ConfigMapVolume : IDisposable
{
    private int _generation;

    public ConfigMapVolume(string corefile)
    {
        Directory = Path.Combine(Path.GetTempPath(), "clusterdns-configmap-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Update(corefile);
        File.CreateSymbolicLink(CorefilePath, Path.Combine("..data", "Corefile"));
    }

    public string Directory { get; }
    public string CorefilePath => Path.Combine(Directory, "Corefile");

    public void Update(string corefile)
    {
        var generation = "..2026_01_01_00_00_00." + (++_generation).ToString(CultureInfo.InvariantCulture);
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, generation));
        File.WriteAllText(Path.Combine(Directory, generation, "Corefile"), corefile);
        var temporary = Path.Combine(Directory, "..data_tmp");
        File.CreateSymbolicLink(temporary, generation);
        // rename(2) of the new link over ..data: atomic, as the kubelet's AtomicWriter does.
        if (Rename(temporary, Path.Combine(Directory, "..data")) != 0) throw new IOException("rename failed: " + Marshal.GetLastPInvokeError());
    }

    [DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename(string from, string to);

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

public sealed class ReloadPluginTests
{
    private static async Task<string> MetricsAsync(int port) => (await OperationsTestKit.GetAsync(port, "/metrics")).Body;

    private static double FailedTotal(string page)
    {
        var line = page.Split('\n').Single(l => l.StartsWith("coredns_reload_failed_total ", StringComparison.Ordinal));
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_ConfigMap_symlink_swap_is_reloaded_and_a_broken_one_keeps_the_old_answers()
    {
        var dnsPort = OperationsTestKit.FreeTcpPort();
        var metricsPort = OperationsTestKit.FreeTcpPort();
        string Corefile(string answering) => $".:{dnsPort} {{\n    reload 2s 1s\n    prometheus 127.0.0.1:{metricsPort}\n    {answering}\n}}\n";
        using var volume = new ConfigMapVolume(Corefile("whoami"));
        var services = new ServerServices(NullLoggerFactory.Instance, random: new Random(7));
        await using var host = new DnsServerHost(BuiltInPlugins.CreateCatalog()
            .Set(OperationsTestKit.Fixed("hosts", new NxDomainPlugin("hosts"))), services,
            new DnsServerHostOptions { UdpSocketsPerAddress = 1 });
        await host.StartFromFileAsync(volume.CorefilePath);
        var endPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, dnsPort);

        Assert.Equal(MessageStatus.NoError, (await DnsTestClient.QueryAsync(endPoint, "example.org")).Status);
        var firstPage = await MetricsAsync(metricsPort);
        var expectedVersion = ReloadPlugin.Sha512Hex(File.ReadAllBytes(volume.CorefilePath));
        Assert.Contains($"coredns_reload_version_info{{hash=\"sha512\",value=\"{expectedVersion}\"}} 1", firstPage);
        var failedBefore = FailedTotal(firstPage);

        // whoami -> a block whose plugin answers NXDOMAIN
        volume.Update(Corefile("hosts"));
        Assert.True(await OperationsTestKit.EventuallyAsync(
            async () => (await DnsTestClient.QueryAsync(endPoint, "example.org")).Status == MessageStatus.NameError, TimeSpan.FromSeconds(10)),
            "the swapped Corefile was not loaded");
        var newVersion = ReloadPlugin.Sha512Hex(File.ReadAllBytes(volume.CorefilePath));
        var reloadedPage = await MetricsAsync(metricsPort);
        Assert.Contains($"value=\"{newVersion}\"}} 1", reloadedPage);
        Assert.DoesNotContain(expectedVersion, reloadedPage);

        // A broken Corefile: the old answers stay, the failure is counted.
        volume.Update(Corefile("nosuchplugin"));
        Assert.True(await OperationsTestKit.EventuallyAsync(
            async () => FailedTotal(await MetricsAsync(metricsPort)) == failedBefore + 1, TimeSpan.FromSeconds(10)),
            "the failed reload was not counted");
        Assert.Equal(MessageStatus.NameError, (await DnsTestClient.QueryAsync(endPoint, "example.org")).Status);
    }

    [Theory]
    [InlineData("reload", 30, 15)]
    [InlineData("reload 10s", 10, 5)]
    [InlineData("reload 2s 1s", 2, 1)]
    [InlineData("reload 1m 20s", 60, 20)]
    public void Parses_interval_and_jitter_with_CoreDNS_defaults_and_clamping(string directive, int interval, int jitter)
    {
        var options = ReloadPlugin.ParseOptions(DirectiveParsing.First($". {{\n    {directive}\n}}\n"));

        Assert.Equal(TimeSpan.FromSeconds(interval), options.Interval);
        Assert.Equal(TimeSpan.FromSeconds(jitter), options.Jitter);
    }

    [Theory]
    [InlineData("reload 1s", "greater or equal to 2s")]
    [InlineData("reload 5s 500ms", "greater or equal to 1s")]
    [InlineData("reload soon", "soon")]
    [InlineData("reload 5s 2s 1s", "1s")]
    public async Task Rejects_bad_values_with_file_and_line(string directive, string detail)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    {directive}\n}}\n", BuiltInPlugins.CreateCatalog());

        Assert.Equal(2, error.Line);
        Assert.Contains(detail, error.Message);
    }
}
