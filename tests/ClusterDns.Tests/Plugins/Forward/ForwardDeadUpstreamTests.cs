using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Plugins.Forward;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.Forward;

/// <summary>forward against an upstream whose port is closed: every send is refused at once (ICMP unreachable).</summary>
public sealed class ForwardDeadUpstreamTests
{
    private static int ClosedUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    [Fact]
    public async Task Once_every_upstream_is_down_one_more_try_then_servfail()
    {
        var port = ClosedUdpPort();
        await using var server = await TestDnsServer.StartAsync($". {{\n    forward . 127.0.0.1:{port}\n}}\n");
        var brokenBefore = ForwardMetrics.HealthcheckBroken.Value;

        var response = await DnsTestClient.QueryAsync(server.EndPoint, "dead.example.test");

        Assert.Equal(MessageStatus.ServerFailure, response.Status);
        // Two refusals mark it down (max_fails 2); the all-down fallback is tried once, not again and again.
        Assert.InRange(ForwardMetrics.HealthcheckBroken.Value - brokenBefore, 1, 2);
    }

    [Fact]
    public async Task Retries_to_a_refused_upstream_do_not_hold_up_other_queries_on_the_socket()
    {
        var port = ClosedUdpPort();
        // max_fails 0: never marked down, so forward retries the refused upstream until its timeout.
        await using var server = await TestDnsServer.StartAsync(
            $". {{\n    hosts {{\n        192.0.2.7 local.test\n        fallthrough\n    }}\n    forward . 127.0.0.1:{port} {{\n        max_fails 0\n    }}\n}}\n");
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Connect(server.EndPoint);

        await client.SendAsync(DnsTestClient.BuildQuery("dead.example.test", DnsType.A, id: 1));
        await client.SendAsync(DnsTestClient.BuildQuery("local.test", DnsType.A, id: 2));

        var buffer = new byte[512];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var first = DnsTestClient.Parse(buffer[..await client.ReceiveAsync(buffer, timeout.Token)]);
        var second = DnsTestClient.Parse(buffer[..await client.ReceiveAsync(buffer, timeout.Token)]);

        Assert.Equal(2, first.Id);
        Assert.Equal("192.0.2.7", Assert.Single(first.Answers.OfType<ARecord>()).Address.ToString());
        Assert.Equal(1, second.Id);
        Assert.Equal(MessageStatus.ServerFailure, second.Status);
    }
}
