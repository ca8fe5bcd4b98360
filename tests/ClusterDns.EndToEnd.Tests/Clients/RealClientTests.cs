using System.Text.RegularExpressions;
using ClusterDns.Tests.Infrastructure;

namespace ClusterDns.EndToEnd.Tests.Clients;

/// <summary>The server as dig and kdig (Debian's dnsutils and knot-dnsutils) see it.</summary>
public sealed partial class RealClientTests
{
    private static async Task<string> DigAsync(TestDnsServer server, params string[] arguments)
    {
        var result = await ProcessRunner.RunAsync("dig", ["@127.0.0.1", "-p", server.Port.ToString(), "+tries=1", "+time=3", .. arguments]);
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        return result.Output;
    }

    [Fact]
    public async Task Dig_over_udp_and_tcp_gets_the_answer_in_its_own_letter_case()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");

        var udp = await DigAsync(server, "WhoAmI.Example.ORG", "A");
        var tcp = await DigAsync(server, "+tcp", "WhoAmI.Example.ORG", "A");

        Assert.Contains("status: NOERROR", udp);
        Assert.Matches(@"WhoAmI\.Example\.ORG\.\s+0\s+IN\s+A\s+127\.0\.0\.1", udp);
        Assert.Matches(@"_udp\.WhoAmI\.Example\.ORG\.\s+0\s+IN\s+SRV", udp);
        Assert.Matches(@"_tcp\.WhoAmI\.Example\.ORG\.\s+0\s+IN\s+SRV", tcp);
    }

    [Fact]
    public async Task Dig_retries_a_truncated_answer_over_tcp_and_gets_it_whole()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami 100\n}\n", BulkAnswerPlugin.Catalog());

        var output = await DigAsync(server, "+bufsize=1232", "big.example", "A");

        Assert.Contains("Truncated, retrying in TCP mode", output);
        Assert.Contains("ANSWER: 100", output);
        Assert.Equal(100, AddressRecord().Matches(output).Count);
    }

    [Fact]
    public async Task Kdig_pipelines_several_queries_on_one_tcp_connection()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");

        var result = await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", server.Port.ToString(),
            "+tcp", "+keepopen", "one.example", "A", "+tcp", "+keepopen", "two.example", "A", "+tcp", "+keepopen", "three.example", "A"]);

        Assert.Equal(0, result.ExitCode);
        var ports = TcpSourcePort().Matches(result.Output).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(3, ports.Count);
        Assert.Single(ports.Distinct()); // one connection: the same client port every time
        Assert.Equal(3, Regex.Matches(result.Output, "status: NOERROR").Count);
    }

    [Fact]
    public async Task Kdig_over_ipv6_gets_an_aaaa_of_the_client()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");

        var result = await ProcessRunner.RunAsync("kdig", ["@::1", "-p", server.Port.ToString(), "v6.example", "A"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"v6\.example\.\s+0\s+IN\s+AAAA\s+::1", result.Output);
    }

    [Fact]
    public async Task Name_outside_every_zone_is_refused()
    {
        await using var server = await TestDnsServer.StartAsync("example.org {\n    whoami\n}\n");

        var output = await DigAsync(server, "www.example.com", "A");

        Assert.Contains("status: REFUSED", output);
    }

    [Fact]
    public async Task Longest_matching_zone_takes_the_query()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami 1\n}\nsub.example.org {\n    whoami 3\n}\n", BulkAnswerPlugin.Catalog());

        var deep = await DigAsync(server, "a.sub.example.org", "A");
        var other = await DigAsync(server, "a.example.org", "A");

        Assert.Contains("ANSWER: 3", deep);
        Assert.Contains("ANSWER: 1", other);
    }

    [GeneratedRegex(@"\sIN\s+A\s+10\.0\.")]
    private static partial Regex AddressRecord();

    [GeneratedRegex(@"_tcp\.\S+\s+0\s+IN\s+SRV\s+0 0 (\d+)")]
    private static partial Regex TcpSourcePort();
}
