using System.Diagnostics;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.EndToEnd.Tests.Upstream;

/// <summary>forward when upstreams misbehave: silence, slowness, truncation, broken TCP.</summary>
public sealed class ForwardFaultTests
{
    private static string Addresses(Message response) =>
        string.Join(',', response.Answers.OfType<ARecord>().Select(a => a.Address.ToString()).Order());

    [Fact]
    public async Task All_upstreams_silent_answers_servfail_within_the_timeout()
    {
        await using var a = new FakeUpstream(FakeUpstreamMode.Silent);
        await using var b = new FakeUpstream(FakeUpstreamMode.Silent);
        await using var server = await TestDnsServer.StartAsync($". {{\n    forward . {a.Address} {b.Address}\n}}\n");

        var stopwatch = Stopwatch.StartNew();
        var response = await DnsTestClient.QueryAsync(server.EndPoint, "www.example.test");

        Assert.Equal(MessageStatus.ServerFailure, response.Status);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(6), $"SERVFAIL took {stopwatch.Elapsed}");
        Assert.True(a.Queries + b.Queries >= 2, "both upstreams should have been tried");
    }

    [Fact]
    public async Task Failfast_answers_servfail_at_once_when_every_upstream_is_down()
    {
        await using var a = new FakeUpstream(FakeUpstreamMode.Silent);
        await using var server = await TestDnsServer.StartAsync(
            $". {{\n    forward . {a.Address} {{\n        max_fails 1\n        health_check 5s\n        failfast_all_unhealthy_upstreams\n    }}\n}}\n");
        await DnsTestClient.QueryAsync(server.EndPoint, "first.example.test"); // marks it down

        var stopwatch = Stopwatch.StartNew();
        var response = await DnsTestClient.QueryAsync(server.EndPoint, "second.example.test");

        Assert.Equal(MessageStatus.ServerFailure, response.Status);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"took {stopwatch.Elapsed}");
        Assert.DoesNotContain("second.example.test.", a.Names);
    }

    [Fact]
    public async Task A_truncated_udp_answer_is_retried_over_tcp()
    {
        await using var upstream = new FakeUpstream(FakeUpstreamMode.Truncating);
        await using var server = await TestDnsServer.StartAsync($". {{\n    forward . {upstream.Address}\n}}\n");

        var response = await server.QueryAsync("big.example.test");

        Assert.Equal("192.0.2.53", Addresses(response));
        Assert.Equal(1, upstream.UdpQueries);
        Assert.Equal(1, upstream.TcpQueries);
    }

    [Fact]
    public async Task Upstream_servfail_reaches_the_client()
    {
        await using var failing = new FakeUpstream(FakeUpstreamMode.ServFail);
        await using var plain = await TestDnsServer.StartAsync($". {{\n    forward . {failing.Address}\n}}\n");
        Assert.Equal(MessageStatus.ServerFailure, (await plain.QueryAsync("x.example.test")).Status);
    }

    [Fact]
    public async Task A_tcp_connection_closed_mid_answer_fails_within_the_timeout()
    {
        await using var upstream = new FakeUpstream(FakeUpstreamMode.CloseMidAnswer);
        await using var server = await TestDnsServer.StartAsync($". {{\n    forward . {upstream.Address} {{\n        force_tcp\n    }}\n}}\n");

        var stopwatch = Stopwatch.StartNew();
        var response = await server.QueryAsync("x.example.test");

        Assert.Equal(MessageStatus.ServerFailure, response.Status);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(6), $"took {stopwatch.Elapsed}");
        Assert.True(upstream.TcpQueries >= 1);
    }

    [Fact]
    public async Task Max_concurrent_refuses_the_excess_of_a_burst()
    {
        await using var upstream = new FakeUpstream(FakeUpstreamMode.Slow) { Delay = TimeSpan.FromMilliseconds(800) };
        await using var server = await TestDnsServer.StartAsync($". {{\n    forward . {upstream.Address} {{\n        max_concurrent 3\n    }}\n}}\n");
        var before = ClusterDns.Server.Plugins.Forward.ForwardMetrics.MaxConcurrentRejects.Value;

        var burst = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => server.QueryAsync($"q{i}.example.test")));

        var refused = burst.Count(r => r.Status == MessageStatus.Refused);
        var answered = burst.Count(r => r.Status == MessageStatus.NoError);
        Assert.Equal(12, refused + answered);
        Assert.InRange(answered, 1, 3);
        Assert.Equal(upstream.Queries, answered);
        Assert.Equal(refused, ClusterDns.Server.Plugins.Forward.ForwardMetrics.MaxConcurrentRejects.Value - before);
    }

    [Fact]
    public async Task A_failed_upstream_is_marked_down_then_up_again_by_health_checks()
    {
        await using var flaky = new FakeUpstream(FakeUpstreamMode.Silent);
        await using var backup = await RealResolver.StartUnboundAsync("www.example.test. 300 IN A 192.0.2.1");
        await using var server = await TestDnsServer.StartAsync(
            $". {{\n    forward . {flaky.Address} {backup.Address} {{\n        policy sequential\n        health_check 100ms\n    }}\n}}\n");
        var forward = server.Host.Current!.Plugins.OfType<ClusterDns.Server.Plugins.Forward.ForwardPlugin>().Single();

        // The first query waits out the silent upstream's read timeout, then gets the backup's answer.
        var first = await server.QueryAsync("www.example.test");
        Assert.Equal("192.0.2.1", Addresses(first));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!forward.Upstreams[0].IsDown && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(forward.Upstreams[0].IsDown);

        // While down it is skipped: answers come from the backup without waiting.
        var queriesBefore = flaky.Queries;
        var stopwatch = Stopwatch.StartNew();
        var whileDown = await server.QueryAsync("www.example.test");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"took {stopwatch.Elapsed}");
        Assert.Equal("192.0.2.1", Addresses(whileDown));
        Assert.Equal(queriesBefore, flaky.Queries);
        Assert.True(flaky.HealthChecks >= 1);

        // It recovers: the next health check passes and it is first in line again.
        flaky.Mode = FakeUpstreamMode.Answer;
        deadline = DateTime.UtcNow.AddSeconds(5);
        string answer;
        do
        {
            answer = Addresses(await server.QueryAsync("www.example.test"));
        }
        while (answer != "192.0.2.53" && DateTime.UtcNow < deadline && await Task.Delay(50).ContinueWith(_ => true));
        Assert.Equal("192.0.2.53", answer);
        Assert.False(forward.Upstreams[0].IsDown);
    }
}
