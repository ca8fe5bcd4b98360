using System.Text.RegularExpressions;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins.Log;
using ClusterDns.Server.Plugins.Whoami;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Plugins.Operations;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.Log;

public sealed class LogPluginTests
{
    private static PluginCatalog Catalog() => new PluginCatalog()
        .Add(LogPlugin.Definition).Add(WhoamiPlugin.Definition)
        .Add(OperationsTestKit.Fixed("hosts", new NxDomainPlugin("hosts")));

    private static async Task<(TestDnsServer Server, StringWriter Output)> StartAsync(string corefile)
    {
        var output = new StringWriter();
        var server = await TestDnsServer.StartAsync(corefile, Catalog(), s => s.SetExtension(new PluginLogOutput(output)));
        return (server, output);
    }

    /// <summary>The line is written after the answer leaves, so the test waits (with a deadline) for it to appear.</summary>
    private static async Task<string[]> WaitForLinesAsync(StringWriter output, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        string[] lines;
        do
        {
            lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
            if (lines.Length >= count) break;
            await Task.Delay(20);
        }
        while (DateTime.UtcNow < deadline);
        return lines;
    }

    [Fact]
    public async Task Writes_the_common_log_line_per_query()
    {
        var (server, output) = await StartAsync(". {\n    log\n    whoami\n}\n");
        await using var _ = server;

        var udp = await server.QueryAsync("Example.ORG", DnsType.A);
        var tcp = await server.QueryAsync("example.org", DnsType.MX, tcp: true, udpSize: 1232);

        var lines = await WaitForLinesAsync(output, 2);
        Assert.Equal(2, lines.Length);
        Assert.Matches(new Regex($"^\\[INFO\\] 127\\.0\\.0\\.1:\\d+ - {udp.Id} \"A IN example\\.org\\. udp \\d+ false 512\" NOERROR qr,aa,rd,ra \\d+ \\d+(\\.\\d+)?s$"), lines[0]);
        Assert.Matches(new Regex($"^\\[INFO\\] 127\\.0\\.0\\.1:\\d+ - {tcp.Id} \"MX IN example\\.org\\. tcp \\d+ false 65535\" NOERROR qr,aa,rd,ra \\d+ \\d+(\\.\\d+)?s$"), lines[1]);
    }

    [Fact]
    public async Task Class_denial_logs_only_denials_and_names_limit_the_scope()
    {
        var (server, output) = await StartAsync(". {\n    log\n    whoami\n}\nnx.test {\n    log nx.test {\n        class denial\n    }\n    hosts\n}\nquiet.test {\n    log other.test\n    whoami\n}\n");
        await using var _ = server;

        await server.QueryAsync("b.quiet.test");
        await server.QueryAsync("a.nx.test");

        var line = Assert.Single(await WaitForLinesAsync(output, 1));
        Assert.Contains("\"A IN a.nx.test. udp", line);
        Assert.Contains("NXDOMAIN qr,aa,rd,ra", line);
    }

    [Fact]
    public async Task A_custom_format_is_used()
    {
        var (server, output) = await StartAsync(". {\n    log . {proto}/{name}/{rcode}/{>opcode}\n    whoami\n}\n");
        await using var _ = server;

        await server.QueryAsync("example.org");

        Assert.Equal(["[INFO] udp/example.org./NOERROR/QUERY"], await WaitForLinesAsync(output, 1));
    }

    [Fact]
    public async Task Nothing_is_logged_without_the_log_plugin()
    {
        var (server, output) = await StartAsync(". {\n    whoami\n}\n");
        await using var _ = server;

        await server.QueryAsync("example.org");

        Assert.Equal("", output.ToString());
    }

    [Fact]
    public async Task Rejects_an_unknown_class_with_its_line()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(". {\n    log {\n        class sometimes\n    }\n}\n", Catalog());

        Assert.Equal(3, error.Line);
        Assert.Contains("sometimes", error.Message);
    }
}
