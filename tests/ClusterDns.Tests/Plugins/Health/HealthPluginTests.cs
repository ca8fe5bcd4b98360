using System.Net;
using ClusterDns.Server.Plugins;
using ClusterDns.Server.Plugins.Health;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Plugins.Operations;

namespace ClusterDns.Tests.Plugins.Health;

public sealed class HealthPluginTests
{
    [Fact]
    public async Task Health_answers_200_OK_while_serving()
    {
        var port = OperationsTestKit.FreeTcpPort();
        await using var server = await TestDnsServer.StartAsync($". {{\n    health 127.0.0.1:{port}\n    whoami\n}}\n");

        var (status, body) = await OperationsTestKit.GetAsync(port, "/health");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("OK", body);
    }

    [Fact]
    public async Task Lameduck_is_handed_to_the_server_and_the_port_survives_a_reload()
    {
        var port = OperationsTestKit.FreeTcpPort();
        await using var server = await TestDnsServer.StartAsync($". {{\n    health 127.0.0.1:{port} {{\n        lameduck 3s\n    }}\n    whoami\n}}\n");
        Assert.Equal(TimeSpan.FromSeconds(3), server.Services.Lameduck);

        await File.WriteAllTextAsync(server.CorefilePath, $". {{\n    health 127.0.0.1:{port} {{\n        lameduck 1500ms\n    }}\n    whoami\n}}\n");
        Assert.True(await server.Host.ReloadFromFileAsync());

        Assert.Equal(TimeSpan.FromMilliseconds(1500), server.Services.Lameduck);
        Assert.Equal(HttpStatusCode.OK, (await OperationsTestKit.GetAsync(port, "/health")).Status);
    }

    [Theory]
    [InlineData("health :8080 extra", 2, "extra")]
    [InlineData("health {\n        lameduck soon\n    }", 3, "soon")]
    [InlineData("health {\n        unknown 1s\n    }", 3, "unknown")]
    [InlineData("health nonsense", 2, "nonsense")]
    public async Task Rejects_bad_options_with_file_and_line(string directive, int line, string culprit)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    {directive}\n}}\n", BuiltInPlugins.CreateCatalog());

        Assert.Equal(line, error.Line);
        Assert.Contains(culprit, error.Message);
    }

    [Fact]
    public void Defaults_to_port_8080_without_lameduck()
    {
        var options = HealthPlugin.ParseOptions(DirectiveParsing.First(". {\n    health\n}\n"));

        Assert.Equal(":8080", options.Address);
        Assert.Equal(TimeSpan.Zero, options.Lameduck);
    }
}
