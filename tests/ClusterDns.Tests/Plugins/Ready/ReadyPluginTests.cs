using System.Diagnostics;
using System.Net;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins.Health;
using ClusterDns.Server.Plugins.Ready;
using ClusterDns.Server.Plugins.Whoami;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Plugins.Operations;
using Makaretu.Dns;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClusterDns.Tests.Plugins.Ready;

public sealed class ReadyPluginTests
{
    private static PluginCatalog Catalog(params PluginDefinition[] extra)
    {
        var catalog = new PluginCatalog().Add(ReadyPlugin.Definition).Add(HealthPlugin.Definition).Add(WhoamiPlugin.Definition);
        foreach (var definition in extra) catalog.Add(definition);
        return catalog;
    }

    [Fact]
    public async Task Answers_503_naming_the_plugins_not_ready_then_200_once_they_are()
    {
        var port = OperationsTestKit.FreeTcpPort();
        var kubernetes = new SwitchableReadiness("kubernetes");
        var loop = new SwitchableReadiness("loop");
        await using var server = await TestDnsServer.StartAsync($". {{\n    ready 127.0.0.1:{port}\n    kubernetes\n    loop\n    whoami\n}}\n",
            Catalog(OperationsTestKit.Fixed("kubernetes", kubernetes), OperationsTestKit.Fixed("loop", loop)));

        var first = await OperationsTestKit.GetAsync(port, "/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.Status);
        Assert.Equal("kubernetes,loop", first.Body);

        loop.Ready = true;
        var second = await OperationsTestKit.GetAsync(port, "/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.Status);
        Assert.Equal("kubernetes", second.Body);

        kubernetes.Ready = true;
        var third = await OperationsTestKit.GetAsync(port, "/ready");
        Assert.Equal(HttpStatusCode.OK, third.Status);
        Assert.Equal("OK", third.Body);
    }

    [Fact]
    public async Task Without_readiness_reporters_it_is_ready()
    {
        var port = OperationsTestKit.FreeTcpPort();
        await using var server = await TestDnsServer.StartAsync($". {{\n    ready 127.0.0.1:{port}\n    whoami\n}}\n", Catalog());

        Assert.Equal((HttpStatusCode.OK, "OK"), await OperationsTestKit.GetAsync(port, "/ready"));
    }

    [Fact]
    public async Task Lameduck_turns_ready_503_at_once_and_keeps_answering_every_query_until_it_ends()
    {
        var readyPort = OperationsTestKit.FreeTcpPort();
        var healthPort = OperationsTestKit.FreeTcpPort();
        await using var server = await TestDnsServer.StartAsync(
            $". {{\n    ready 127.0.0.1:{readyPort}\n    health 127.0.0.1:{healthPort} {{\n        lameduck 2s\n    }}\n    whoami\n}}\n", Catalog());
        Assert.Equal(HttpStatusCode.OK, (await OperationsTestKit.GetAsync(readyPort, "/ready")).Status);

        var endPoint = server.EndPoint;
        var stopwatch = Stopwatch.StartNew();
        var stopping = server.Host.StopAsync(server.Services.Lameduck);

        var ready = await OperationsTestKit.GetAsync(readyPort, "/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.Status);
        Assert.Equal("Shutting down", ready.Body);
        Assert.Equal(HttpStatusCode.OK, (await OperationsTestKit.GetAsync(healthPort, "/health")).Status);

        // Queries throughout most of the lameduck window: every one must be answered.
        int sent = 0, answered = 0;
        while (stopwatch.Elapsed < TimeSpan.FromMilliseconds(1500))
        {
            sent++;
            var query = DnsTestClient.BuildQuery("example.org", DnsType.A, id: (ushort)sent);
            if (await DnsTestClient.ExchangeUdpAsync(endPoint, query, TimeSpan.FromSeconds(1)) is not null) answered++;
        }
        Assert.False(stopping.IsCompleted);
        Assert.True(sent > 10, $"only {sent} queries sent");
        Assert.Equal(sent, answered);

        await stopping;
        // The lameduck timer may fire a few milliseconds before the stopwatch reads 2 s (seen: 1.9978 s).
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(1.9), $"stopped after {stopwatch.Elapsed}");
        byte[]? late;
        try
        {
            late = await DnsTestClient.ExchangeUdpAsync(endPoint, DnsTestClient.BuildQuery("example.org", DnsType.A), TimeSpan.FromMilliseconds(500));
        }
        catch (System.Net.Sockets.SocketException)
        {
            late = null; // the port is closed: ICMP unreachable
        }
        Assert.Null(late);
    }

    [Fact]
    public async Task Answers_503_while_a_startup_hook_still_holds_the_dns_listeners_back()
    {
        var port = OperationsTestKit.FreeTcpPort();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Like kubernetes waiting for its first list of the API before the server starts.
        var waiting = new PluginDefinition("kubernetes", (context, _) =>
        {
            context.OnStartup(_ => gate.Task);
            return null;
        });
        var directory = Directory.CreateTempSubdirectory("clusterdns-ready-");
        var corefile = Path.Combine(directory.FullName, "Corefile");
        await File.WriteAllTextAsync(corefile, $". {{\n    ready 127.0.0.1:{port}\n    kubernetes\n    whoami\n}}\n");
        await using var host = new DnsServerHost(Catalog(waiting), new ServerServices(NullLoggerFactory.Instance),
            new DnsServerHostOptions { DefaultPort = 0, UdpSocketsPerAddress = 1 });
        try
        {
            var starting = host.StartFromFileAsync(corefile);
            Assert.True(await OperationsTestKit.EventuallyAsync(async () =>
            {
                try
                {
                    await OperationsTestKit.GetAsync(port, "/ready");
                    return true;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(10)), "/ready never answered");

            Assert.Empty(host.UdpEndPoints);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await OperationsTestKit.GetAsync(port, "/ready")).Status);

            gate.SetResult();
            await starting;
            Assert.Equal((HttpStatusCode.OK, "OK"), await OperationsTestKit.GetAsync(port, "/ready"));
        }
        finally
        {
            gate.TrySetResult();
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Rejects_an_unknown_monitor_mode_with_its_line()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(". {\n    ready {\n        monitor sometimes\n    }\n}\n", Catalog());

        Assert.Equal(3, error.Line);
        Assert.Contains("sometimes", error.Message);
    }
}
