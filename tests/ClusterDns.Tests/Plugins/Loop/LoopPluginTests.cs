using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Plugins.Loop;
using ClusterDns.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Tests.Plugins.Loop;

public sealed class LoopPluginTests
{
    [Fact]
    public async Task A_corefile_that_forwards_to_itself_stops_with_the_loop_message()
    {
        var exit = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var logs = new CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(logs));
        await using var server = await TestDnsServer.StartOnFreePortAsync(port => $".:{port} {{\n    loop\n    forward . 127.0.0.1:{port}\n}}\n",
            configure: services => services.SetExtension(new LoopExit(code => exit.TrySetResult(code))), loggerFactory: factory);
        var port = server.Port;
        var loop = server.Host.Current!.Plugins.OfType<LoopPlugin>().Single();

        var code = await exit.Task.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(1, code);
        Assert.True(loop.Detected);
        var message = Assert.Single(logs.Messages, m => m.Contains("detected for zone", StringComparison.Ordinal));
        Assert.Contains($"-> :{port}) detected for zone \".\"", message);
        Assert.Contains("https://coredns.io/plugins/loop#troubleshooting", message);
        Assert.Contains($"Query: \"HINFO {loop.ProbeName}\"", message);
    }

    [Fact]
    public async Task Without_a_loop_the_probe_is_answered_and_loop_steps_aside()
    {
        var exited = false;
        await using var server = await TestDnsServer.StartOnFreePortAsync(port => $"example.org:{port} {{\n    loop\n    whoami\n}}\n",
            configure: services => services.SetExtension(new LoopExit(_ => exited = true)));
        var loop = server.Host.Current!.Plugins.OfType<LoopPlugin>().Single();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (loop.IsActive && DateTime.UtcNow < deadline) await Task.Delay(50);

        Assert.False(loop.IsActive);
        Assert.False(exited);
        Assert.Equal(1, loop.Seen);
        Assert.EndsWith(".example.org.", loop.ProbeName);
    }

    [Fact]
    public async Task A_silent_upstream_is_not_taken_for_a_loop()
    {
        using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        upstream.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var exited = false;
        await using var server = await TestDnsServer.StartOnFreePortAsync(port => $".:{port} {{\n    loop\n    forward . {upstream.LocalEndPoint}\n}}\n",
            configure: services => services.SetExtension(new LoopExit(_ => exited = true)));
        var loop = server.Host.Current!.Plugins.OfType<LoopPlugin>().Single();

        // Each probe reaches the silent upstream once and times out; by 8 s after the first, three or more were sent.
        var buffer = new byte[512];
        upstream.ReceiveTimeout = 10_000;
        upstream.Receive(buffer);
        await Task.Delay(TimeSpan.FromSeconds(8));

        Assert.False(exited);
        Assert.False(loop.Detected);
    }

    [Fact]
    public async Task Loop_takes_no_arguments()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(". {\n    loop now\n}\n");

        Assert.Equal(2, error.Line);
        Assert.Contains("now", error.Message);
    }
}
