using System.Diagnostics;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.EndToEnd.Tests.Upstream;

/// <summary>forward and cache against a real unbound: what dig and a plain client see.</summary>
public sealed class ForwardCacheEndToEndTests
{
    private static readonly string[] Records =
    [
        "www.example.test. 300 IN A 192.0.2.1",
        "short.example.test. 10 IN A 192.0.2.10",
        "multi.example.test. 300 IN A 192.0.2.21",
        "multi.example.test. 300 IN A 192.0.2.22",
        "multi.example.test. 300 IN A 192.0.2.23",
        "multi.example.test. 300 IN A 192.0.2.24",
    ];

    private static string Addresses(Message response) =>
        string.Join(',', response.Answers.OfType<ARecord>().Select(a => a.Address.ToString()).Order());

    [Fact]
    public async Task Forward_relays_the_upstream_answer_with_the_clients_id_and_case()
    {
        await using var unbound = await RealResolver.StartUnboundAsync(Records);
        await using var server = await TestDnsServer.StartAsync($". {{\n    forward . {unbound.Address}\n}}\n");

        var udp = await server.QueryAsync("WwW.Example.TEST", DnsType.A);
        var tcp = await server.QueryAsync("www.EXAMPLE.test", DnsType.A, tcp: true);

        Assert.Equal(MessageStatus.NoError, udp.Status);
        Assert.Equal("WwW.Example.TEST", udp.Questions[0].Name.ToString());
        Assert.Equal("192.0.2.1", Addresses(udp));
        Assert.Equal("www.EXAMPLE.test", tcp.Questions[0].Name.ToString());
        Assert.Equal("192.0.2.1", Addresses(tcp));
        var nx = await server.QueryAsync("missing.example.test", DnsType.A);
        Assert.Equal(MessageStatus.NameError, nx.Status);
    }

    [Fact]
    public async Task Cache_ttl_counts_down_as_dig_sees_it()
    {
        Assert.True(File.Exists("/usr/bin/dig"), "dig is required");
        await using var unbound = await RealResolver.StartUnboundAsync(Records);
        await using var server = await TestDnsServer.StartAsync($". {{\n    cache 30\n    forward . {unbound.Address}\n}}\n");

        var first = await DigTtlAsync(server.Port, "www.example.test");
        await Task.Delay(TimeSpan.FromSeconds(2.2)); // the controlled delay the TTL must reflect
        var second = await DigTtlAsync(server.Port, "www.example.test");
        var viaClient = (await server.QueryAsync("www.example.test")).Answers[0].TTL;

        Assert.Equal(30, first); // capped at the cache's TTL
        Assert.InRange(second, 26, 28);
        Assert.InRange((int)viaClient.TotalSeconds, 26, 28);
    }

    private static async Task<int> DigTtlAsync(int port, string name)
    {
        var result = await ProcessRunner.RunAsync("/usr/bin/dig", ["@127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), name, "A", "+noall", "+answer", "+tries=1", "+time=3"]);
        Assert.Equal(0, result.ExitCode);
        var line = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).First(l => !l.StartsWith(';'));
        return int.Parse(line.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Negative_answers_are_cached_for_the_soa_minimum_and_survive_the_upstream()
    {
        await using var unbound = await RealResolver.StartUnboundAsync(Records);
        await using var server = await TestDnsServer.StartAsync($". {{\n    cache\n    forward . {unbound.Address}\n}}\n");

        var first = await server.QueryAsync("nothing.example.test");
        await unbound.StopAsync();
        var second = await server.QueryAsync("nothing.example.test");

        Assert.Equal(MessageStatus.NameError, first.Status);
        Assert.Equal(MessageStatus.NameError, second.Status);
        var soa = Assert.IsType<SOARecord>(second.AuthorityRecords.Single());
        Assert.InRange(soa.TTL.TotalSeconds, 55, 60); // SOA minimum 60 caps the SOA's own TTL of 3600
    }

    [Fact]
    public async Task Dnssec_ok_queries_are_cached_apart()
    {
        await using var unbound = await RealResolver.StartUnboundAsync(Records);
        await using var server = await TestDnsServer.StartAsync($". {{\n    cache\n    forward . {unbound.Address}\n}}\n");
        var plugin = server.Host.Current!.Plugins.OfType<ClusterDns.Server.Plugins.Cache.CachePlugin>().Single();

        await server.QueryAsync("www.example.test");
        var withDo = DnsTestClient.BuildQuery("www.example.test", DnsType.A, 1232, 7, dnssecOk: true);
        var reply = await DnsTestClient.ExchangeUdpAsync(server.EndPoint, withDo);

        Assert.NotNull(reply);
        Assert.Equal(2, plugin.Success.Count);
    }

    [Fact]
    public async Task Serve_stale_answers_with_ttl_zero_while_the_upstream_is_stopped()
    {
        await using var unbound = await RealResolver.StartUnboundAsync(Records);
        await using var server = await TestDnsServer.StartAsync($". {{\n    cache {{\n        success 1024 1 1\n        serve_stale 1h\n    }}\n    forward . {unbound.Address}\n}}\n");

        var fresh = await server.QueryAsync("www.example.test");
        await unbound.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(1.2)); // past the 1 s TTL
        var stale = await server.QueryAsync("www.example.test");

        Assert.Equal("192.0.2.1", Addresses(fresh));
        Assert.Equal(MessageStatus.NoError, stale.Status);
        Assert.Equal("192.0.2.1", Addresses(stale));
        Assert.Equal(TimeSpan.Zero, stale.Answers[0].TTL);
    }

    [Fact]
    public async Task Without_serve_stale_an_expired_entry_is_not_served()
    {
        await using var unbound = await RealResolver.StartUnboundAsync(Records);
        await using var server = await TestDnsServer.StartAsync($". {{\n    cache {{\n        success 1024 1 1\n    }}\n    forward . {unbound.Address} {{\n        max_fails 0\n    }}\n}}\n");

        await server.QueryAsync("www.example.test");
        await unbound.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var stopwatch = Stopwatch.StartNew();
        // Forward gives up after its 4.5 s query deadline; the client waits longer than the bound asserted below, so
        // a slow SERVFAIL on a loaded machine fails on the bound, not on the client's own 5 s timeout.
        var reply = await DnsTestClient.ExchangeUdpAsync(server.EndPoint, DnsTestClient.BuildQuery("www.example.test", DnsType.A, null, 4242),
            TimeSpan.FromSeconds(10));
        Assert.NotNull(reply);
        var after = DnsTestClient.Parse(reply);

        Assert.Equal(MessageStatus.ServerFailure, after.Status);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(6), $"SERVFAIL took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Prefetch_refreshes_a_popular_entry_before_it_expires()
    {
        await using var unbound = await RealResolver.StartUnboundAsync(Records);
        await using var server = await TestDnsServer.StartAsync($". {{\n    cache {{\n        success 1024 10 1\n        prefetch 1 1m 90%\n    }}\n    forward . {unbound.Address}\n}}\n");

        await server.QueryAsync("short.example.test"); // stored with TTL 10
        await Task.Delay(TimeSpan.FromSeconds(1.1)); // 9 s left: within 90 % of 10 s, so the next hit prefetches
        var hit = await server.QueryAsync("short.example.test");
        Assert.InRange(hit.Answers[0].TTL.TotalSeconds, 8, 9);

        // The refreshed entry starts its TTL again; without prefetch it would only go down.
        var deadline = DateTime.UtcNow.AddSeconds(3);
        double ttl;
        do
        {
            ttl = (await server.QueryAsync("short.example.test")).Answers[0].TTL.TotalSeconds;
        }
        while (ttl < 10 && DateTime.UtcNow < deadline && await DelayAsync());
        Assert.Equal(10, ttl);
    }

    private static async Task<bool> DelayAsync()
    {
        await Task.Delay(20);
        return true;
    }

    [Fact]
    public async Task Policies_decide_which_upstream_gets_the_queries()
    {
        await using var first = await RealResolver.StartUnboundAsync("who.example.test. 300 IN A 192.0.2.101");
        await using var second = await RealResolver.StartUnboundAsync("who.example.test. 300 IN A 192.0.2.102");

        async Task<List<string>> AnswersAsync(string policy)
        {
            await using var server = await TestDnsServer.StartAsync($". {{\n    forward . {first.Address} {second.Address} {{\n        policy {policy}\n    }}\n}}\n");
            var answers = new List<string>();
            for (var i = 0; i < 20; i++) answers.Add(Addresses(await server.QueryAsync("who.example.test")));
            return answers;
        }

        var sequential = await AnswersAsync("sequential");
        var roundRobin = await AnswersAsync("round_robin");
        var random = await AnswersAsync("random");

        Assert.All(sequential, a => Assert.Equal("192.0.2.101", a));
        for (var i = 1; i < roundRobin.Count; i++) Assert.NotEqual(roundRobin[i - 1], roundRobin[i]);
        Assert.Contains("192.0.2.101", random);
        Assert.Contains("192.0.2.102", random);
    }
}
