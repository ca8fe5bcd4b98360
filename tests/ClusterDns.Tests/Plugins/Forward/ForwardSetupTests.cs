using ClusterDns.Server.Corefile;
using ClusterDns.Server.Plugins.Forward;
using ClusterDns.Tests.Infrastructure;

namespace ClusterDns.Tests.Plugins.Forward;

public sealed class ForwardSetupTests
{
    private static ForwardOptions Parse(string text)
    {
        var document = CorefileParser.Parse(text, "Corefile");
        var directive = document.ServerBlocks[0].Directives[0];
        return ForwardOptions.Parse(directive);
    }

    [Fact]
    public void Parses_upstreams_and_options()
    {
        var options = Parse("""
            . {
                forward example.org 10.0.0.1 dns://10.0.0.2:5353 [fd00::1]:53 tls://10.0.0.3 {
                    except internal.example.org
                    force_tcp
                    expire 30s
                    max_fails 3
                    health_check 1s no_rec domain probe.example.org
                    policy round_robin
                    max_concurrent 100
                    next NXDOMAIN SERVFAIL
                    failfast_all_unhealthy_upstreams
                    tls_servername dns.example.net
                }
            }
            """);

        Assert.Equal("example.org.", options.From);
        Assert.Equal(["10.0.0.1:53", "10.0.0.2:5353", "[fd00::1]:53", "10.0.0.3:853"], options.Upstreams.Select(u => u.Label));
        Assert.True(options.Upstreams[3].Tls);
        Assert.True(options.ForceTcp);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Expire);
        Assert.Equal(3, options.MaxFails);
        Assert.Equal(TimeSpan.FromSeconds(1), options.HealthCheckInterval);
        Assert.False(options.HealthCheckRecursionDesired);
        Assert.Equal(ForwardPolicy.RoundRobin, options.Policy);
        Assert.Equal(100, options.MaxConcurrent);
        Assert.Equal(new HashSet<int> { 2, 3 }, options.NextRcodes);
        Assert.True(options.FailFastAllUnhealthy);
        Assert.Equal("dns.example.net", options.TlsServerName);
        Assert.Single(options.Except);
    }

    [Fact]
    public void Defaults_are_coredns_defaults()
    {
        var options = Parse(". {\n    forward . 10.0.0.1\n}\n");

        Assert.Equal(ForwardPolicy.Random, options.Policy);
        Assert.Equal(2, options.MaxFails);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.HealthCheckInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), options.Expire);
        Assert.Equal(0, options.MaxConcurrent);
    }

    [Fact]
    public void Reads_nameservers_from_a_resolv_conf()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "search example.org\nnameserver 192.0.2.1\n# nameserver 192.0.2.9\nnameserver 2001:db8::1\noptions ndots:5\n");
            var options = Parse($". {{\n    forward . {path}\n}}\n");

            Assert.Equal(["192.0.2.1:53", "[2001:db8::1]:53"], options.Upstreams.Select(u => u.Label));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("forward .", 2, "TO")]
    [InlineData("forward . dns.google", 2, "dns.google")]
    [InlineData("forward . https://10.0.0.1", 2, "https://10.0.0.1")]
    [InlineData("forward . 10.0.0.1 {\n        policy fastest\n    }", 3, "fastest")]
    [InlineData("forward . 10.0.0.1 {\n        max_fails many\n    }", 3, "many")]
    [InlineData("forward . 10.0.0.1 {\n        next MAYBE\n    }", 3, "MAYBE")]
    [InlineData("forward . 10.0.0.1 {\n        bogus\n    }", 3, "bogus")]
    [InlineData("forward . 10.0.0.1 {\n        health_check 1s sideways\n    }", 3, "sideways")]
    [InlineData("forward . 10.0.0.1 {\n        tls /nonexistent/cert.pem /nonexistent/key.pem\n    }", 3, "/nonexistent/cert.pem")]
    public async Task Bad_configuration_fails_with_file_and_line(string directive, int line, string mention)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    {directive}\n}}\n");

        Assert.Equal(line, error.Line);
        Assert.EndsWith("Corefile", error.File);
        Assert.Contains(mention, error.Message);
    }

    [Fact]
    public async Task More_than_fifteen_upstreams_fail()
    {
        var upstreams = string.Join(' ', Enumerable.Range(1, 16).Select(i => $"10.0.0.{i}"));

        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    forward . {upstreams}\n}}\n");

        Assert.Contains("15", error.Message);
    }

    [Fact]
    public async Task Names_outside_from_or_excepted_go_to_the_next_plugin()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    forward example.org 127.0.0.1:9 {\n        except skip.example.org\n    }\n    whoami\n}\n");

        var outside = await server.QueryAsync("www.example.com");
        var excepted = await server.QueryAsync("a.skip.example.org");

        Assert.NotEmpty(outside.AdditionalRecords); // whoami answered
        Assert.NotEmpty(excepted.AdditionalRecords);
    }
}
