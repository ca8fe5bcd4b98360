using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins.Errors;
using ClusterDns.Server.Plugins.Log;
using ClusterDns.Server.Plugins.Prometheus;
using ClusterDns.Server.Plugins.Whoami;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Plugins.Operations;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.Prometheus;

public sealed class PrometheusPluginTests
{
    private static PluginCatalog Catalog(params PluginDefinition[] extra)
    {
        var catalog = new PluginCatalog().Add(PrometheusPlugin.Definition).Add(ErrorsPlugin.Definition).Add(LogPlugin.Definition);
        foreach (var definition in extra) catalog.Add(definition);
        return catalog;
    }

    /// <summary>The value of the one series of <paramref name="metric"/> whose labels include all of <paramref name="labels"/>.</summary>
    private static double? Value(string page, string metric, params string[] labels)
    {
        foreach (var line in page.Split('\n'))
        {
            if (!line.StartsWith(metric + "{", StringComparison.Ordinal) && !line.StartsWith(metric + " ", StringComparison.Ordinal)) continue;
            if (labels.All(label => line.Contains(label, StringComparison.Ordinal)))
            {
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }
        return null;
    }

    [Fact]
    public async Task Counts_requests_and_responses_with_CoreDNS_names_and_labels()
    {
        var port = OperationsTestKit.FreeTcpPort();
        // A zone of its own: the registry is process-wide, so no other test touches these series.
        var zone = $"m{Guid.NewGuid():N}.test.";
        await using var server = await TestDnsServer.StartAsync(
            $"{zone} {{\n    prometheus 127.0.0.1:{port}\n    whoami\n}}\nnx.{zone} {{\n    prometheus 127.0.0.1:{port}\n    hosts\n}}\n",
            Catalog(WhoamiPlugin.Definition, OperationsTestKit.Fixed("hosts", new NxDomainPlugin("hosts"))));

        for (var i = 0; i < 7; i++) await server.QueryAsync("host." + zone, DnsType.A);
        for (var i = 0; i < 2; i++) await server.QueryAsync("host." + zone, DnsType.AAAA, tcp: true);
        await server.QueryAsync("host." + zone, (DnsType)99); // SPF: not a monitored type
        for (var i = 0; i < 3; i++) await server.QueryAsync("a.nx." + zone, DnsType.A);

        var (status, page) = await OperationsTestKit.GetAsync(port, "/metrics");
        Assert.Equal(HttpStatusCode.OK, status);
        var z = $"zone=\"{zone}\"";
        Assert.Equal(7, Value(page, "coredns_dns_requests_total", z, "proto=\"udp\"", "family=\"1\"", "type=\"A\"", "view=\"\"", "server=\"dns://:0\""));
        Assert.Equal(2, Value(page, "coredns_dns_requests_total", z, "proto=\"tcp\"", "type=\"AAAA\""));
        Assert.Equal(1, Value(page, "coredns_dns_requests_total", z, "type=\"other\""));
        Assert.Equal(10, Value(page, "coredns_dns_responses_total", z, "rcode=\"NOERROR\"", "plugin=\"whoami\""));
        Assert.Equal(3, Value(page, "coredns_dns_responses_total", $"zone=\"nx.{zone}\"", "rcode=\"NXDOMAIN\"", "plugin=\"hosts\""));
        Assert.Equal(10, Value(page, "coredns_dns_request_duration_seconds_count", z));
        Assert.Equal(8, Value(page, "coredns_dns_request_size_bytes_count", z, "proto=\"udp\""));
        Assert.Equal(2, Value(page, "coredns_dns_response_size_bytes_count", z, "proto=\"tcp\""));
        Assert.Equal(8, Value(page, "coredns_dns_response_size_bytes_bucket", z, "proto=\"udp\"", "le=\"+Inf\""));
        Assert.Equal(1, Value(page, "coredns_plugin_enabled", z, "name=\"whoami\""));
        Assert.Equal(1, Value(page, "coredns_plugin_enabled", z, "name=\"prometheus\""));
        Assert.Equal(1, Value(page, "coredns_build_info", "goversion=\".NET"));
        Assert.NotNull(Value(page, "coredns_panics_total"));
        Assert.NotNull(Value(page, "process_resident_memory_bytes"));
        Assert.Contains("coredns_dns_request_duration_seconds_bucket{server=\"dns://:0\",zone=\"" + zone + "\",view=\"\",le=\"0.00025\"}", page);
    }

    [Fact]
    public async Task A_failure_nobody_wrote_is_counted_with_an_empty_plugin_label()
    {
        var port = OperationsTestKit.FreeTcpPort();
        var zone = $"f{Guid.NewGuid():N}.test.";
        await using var server = await TestDnsServer.StartAsync($"{zone} {{\n    prometheus 127.0.0.1:{port}\n    forward\n}}\n",
            Catalog(OperationsTestKit.Fixed("forward", new FailingPlugin("forward", "connection refused"))));

        var answer = await server.QueryAsync("x." + zone);

        Assert.Equal(MessageStatus.ServerFailure, answer.Status);
        var (_, page) = await OperationsTestKit.GetAsync(port, "/metrics");
        Assert.Equal(1, Value(page, "coredns_dns_responses_total", $"zone=\"{zone}\"", "rcode=\"SERVFAIL\"", "plugin=\"\""));
    }

    [Fact]
    public async Task The_metrics_page_passes_promtool()
    {
        Assert.True(ProcessRunner.IsInstalled("promtool"), "promtool (Debian package prometheus) is required");
        var port = OperationsTestKit.FreeTcpPort();
        await using var server = await TestDnsServer.StartAsync($". {{\n    prometheus 127.0.0.1:{port}\n    errors\n    log\n    whoami\n}}\n",
            Catalog(WhoamiPlugin.Definition), configure: s => s.SetExtension(new PluginLogOutput(TextWriter.Null)));
        await server.QueryAsync("example.org");
        await server.QueryAsync("example.org", DnsType.MX, tcp: true);

        var (_, page) = await OperationsTestKit.GetAsync(port, "/metrics");
        var result = await ProcessRunner.RunAsync("promtool", ["check", "metrics"], standardInput: page);

        Assert.True(result.ExitCode == 0, $"promtool failed ({result.ExitCode}): {result.Output}{result.Error}");
        // Lint findings CoreDNS's own page would not have are not acceptable either.
        Assert.DoesNotMatch(new Regex("coredns_\\S+ .*(non-histogram|no help|should have)"), result.Output + result.Error);
    }

    [Fact]
    public async Task A_query_that_panics_is_counted_in_coredns_panics_total()
    {
        var port = OperationsTestKit.FreeTcpPort();
        await using var server = await TestDnsServer.StartAsync($". {{\n    prometheus 127.0.0.1:{port}\n    forward\n}}\n",
            Catalog(OperationsTestKit.Fixed("forward", new ThrowingPlugin())));
        var before = Value((await OperationsTestKit.GetAsync(port, "/metrics")).Body, "coredns_panics_total") ?? 0;

        var answer = await server.QueryAsync("example.org");

        Assert.Equal(MessageStatus.ServerFailure, answer.Status);
        Assert.Equal(before + 1, Value((await OperationsTestKit.GetAsync(port, "/metrics")).Body, "coredns_panics_total"));
    }

    private sealed class ThrowingPlugin : DnsPlugin
    {
        public override string Name => "forward";
        public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer) => throw new InvalidOperationException("boom");
    }
}
