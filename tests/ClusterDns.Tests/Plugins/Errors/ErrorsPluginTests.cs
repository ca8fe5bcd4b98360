using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins.Errors;
using ClusterDns.Server.Plugins.Log;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Plugins.Operations;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.Errors;

public sealed class ErrorsPluginTests
{
    private static PluginCatalog Catalog(string message) => new PluginCatalog()
        .Add(ErrorsPlugin.Definition)
        .Add(OperationsTestKit.Fixed("forward", new FailingPlugin("forward", message)));

    [Fact]
    public async Task Logs_each_error_as_CoreDNS_does()
    {
        var output = new StringWriter();
        await using var server = await TestDnsServer.StartAsync(". {\n    errors\n    forward\n}\n", Catalog("read udp 10.0.0.1:53: i/o timeout"),
            s => s.SetExtension(new PluginLogOutput(output)));

        var answer = await server.QueryAsync("Example.ORG", DnsType.AAAA);

        Assert.Equal(MessageStatus.ServerFailure, answer.Status);
        Assert.Equal("[ERROR] plugin/errors: 2 example.org. AAAA: read udp 10.0.0.1:53: i/o timeout" + Environment.NewLine, output.ToString());
    }

    [Fact]
    public async Task Consolidates_matching_errors_into_one_line_per_period()
    {
        var output = new StringWriter();
        await using var server = await TestDnsServer.StartAsync(". {\n    errors {\n        consolidate 1s timeout$ warning\n    }\n    forward\n}\n",
            Catalog("read udp 10.0.0.1:53: i/o timeout"), s => s.SetExtension(new PluginLogOutput(output)));

        for (var i = 0; i < 3; i++) await server.QueryAsync("example.org");

        Assert.True(await OperationsTestKit.EventuallyAsync(() => Task.FromResult(output.ToString().Length > 0), TimeSpan.FromSeconds(5)));
        Assert.Equal("[WARNING] plugin/errors: 3 errors like 'timeout$' occurred in last 1s" + Environment.NewLine, output.ToString());
    }

    [Fact]
    public void Parses_consolidate_lines()
    {
        var options = ErrorsPlugin.ParseOptions(DirectiveParsing.First(". {\n    errors {\n        consolidate 5m ^read info show_first\n        stacktrace\n    }\n}\n"));

        var rule = Assert.Single(options.Consolidate);
        Assert.Equal(TimeSpan.FromMinutes(5), rule.Period);
        Assert.Equal("^read", rule.Pattern.ToString());
        Assert.Equal("INFO", rule.Level);
        Assert.True(rule.ShowFirst);
        Assert.True(options.StackTrace);
    }

    [Theory]
    [InlineData("consolidate 1s", "needs at least 2")]
    [InlineData("consolidate never x", "never")]
    [InlineData("consolidate 1s ( error", "(")]
    [InlineData("consolidate 1s x loud", "loud")]
    [InlineData("verbose", "verbose")]
    public async Task Rejects_bad_lines_with_their_line_number(string line, string culprit)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    errors {{\n        {line}\n    }}\n}}\n", Catalog("x"));

        Assert.Equal(3, error.Line);
        Assert.Contains(culprit, error.Message);
    }

    [Theory]
    [InlineData(30, "30s")]
    [InlineData(300, "5m0s")]
    [InlineData(3600, "1h0m0s")]
    [InlineData(0.5, "500ms")]
    [InlineData(90, "1m30s")]
    public void Formats_durations_as_Go_does(double seconds, string expected) => Assert.Equal(expected, GoDuration.Format(TimeSpan.FromSeconds(seconds)));
}
