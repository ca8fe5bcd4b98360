using ClusterDns.Server.Plugins.Hosts;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.Hosts;

public sealed class HostsPluginTests
{
    private const string Inline = """
        . {
            hosts /nonexistent/hosts {
                10.0.0.1 db.example.org db
                fd00::1 db.example.org
                10.0.0.2 web.example.org
                ttl 60
                reload 0
            }
        }
        """;

    [Fact]
    public async Task Answers_a_and_aaaa_from_inline_entries_with_the_ttl()
    {
        await using var server = await TestDnsServer.StartAsync(Inline);

        var a = await server.QueryAsync("DB.example.org", DnsType.A);
        var aaaa = await server.QueryAsync("db.example.org", DnsType.AAAA);

        Assert.Equal(MessageStatus.NoError, a.Status);
        Assert.True(a.AA);
        var record = Assert.IsType<ARecord>(Assert.Single(a.Answers));
        Assert.Equal("10.0.0.1", record.Address.ToString());
        Assert.Equal("DB.example.org", record.Name.ToString());
        Assert.Equal(TimeSpan.FromSeconds(60), record.TTL);
        Assert.Equal("fd00::1", Assert.IsType<AAAARecord>(Assert.Single(aaaa.Answers)).Address.ToString());
    }

    [Fact]
    public async Task Answers_ptr_for_the_entries_addresses()
    {
        await using var server = await TestDnsServer.StartAsync(Inline);

        var ptr = await server.QueryAsync("1.0.0.10.in-addr.arpa", DnsType.PTR);
        var ptr6 = await server.QueryAsync("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", DnsType.PTR);

        var names = ptr.Answers.OfType<PTRRecord>().Select(p => p.DomainName.ToString()).ToList();
        Assert.Equal(["db.example.org", "db"], names);
        Assert.Equal("db.example.org", Assert.IsType<PTRRecord>(Assert.Single(ptr6.Answers)).DomainName.ToString());
    }

    [Fact]
    public async Task No_reverse_sends_ptr_queries_on()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    hosts /nonexistent {\n        10.0.0.1 db.example.org\n        no_reverse\n    }\n    whoami\n}\n");

        var ptr = await server.QueryAsync("1.0.0.10.in-addr.arpa", DnsType.PTR);

        Assert.Empty(ptr.Answers);
        Assert.NotEmpty(ptr.AdditionalRecords); // whoami answered
    }

    [Fact]
    public async Task An_existing_name_without_the_type_is_nodata_and_an_unknown_name_servfail()
    {
        await using var server = await TestDnsServer.StartAsync(Inline);

        var nodata = await server.QueryAsync("web.example.org", DnsType.AAAA);
        var mx = await server.QueryAsync("web.example.org", DnsType.MX);
        var unknown = await server.QueryAsync("nobody.example.org", DnsType.A);

        Assert.Equal(MessageStatus.NoError, nodata.Status);
        Assert.Empty(nodata.Answers);
        Assert.True(nodata.AA);
        Assert.Equal(MessageStatus.NoError, mx.Status);
        Assert.Equal(MessageStatus.ServerFailure, unknown.Status);
    }

    [Fact]
    public async Task Fallthrough_hands_unknown_names_to_the_next_plugin()
    {
        await using var server = await TestDnsServer.StartAsync(
            ". {\n    hosts /nonexistent {\n        10.0.0.1 db.example.org\n        fallthrough example.org\n    }\n    whoami\n}\n");

        var unknown = await server.QueryAsync("nobody.example.org", DnsType.A);
        var outside = await server.QueryAsync("nobody.example.com", DnsType.A);

        Assert.Equal(MessageStatus.NoError, unknown.Status);
        Assert.NotEmpty(unknown.AdditionalRecords); // whoami's answer
        Assert.Equal(MessageStatus.ServerFailure, outside.Status);
    }

    [Fact]
    public async Task Reads_a_hosts_file_and_reloads_it_when_it_changes()
    {
        var directory = Directory.CreateTempSubdirectory("clusterdns-hosts-");
        try
        {
            var path = Path.Combine(directory.FullName, "hosts");
            await File.WriteAllTextAsync(path, "# comment\n192.0.2.1 app.example.org app # trailing\nnot-an-ip broken\n");
            await using var server = await TestDnsServer.StartAsync($". {{\n    hosts {path} {{\n        reload 100ms\n    }}\n}}\n");

            var before = await server.QueryAsync("app.example.org");
            Assert.Equal("192.0.2.1", Assert.IsType<ARecord>(Assert.Single(before.Answers)).Address.ToString());
            Assert.Equal(TimeSpan.FromSeconds(3600), before.Answers[0].TTL);

            await File.WriteAllTextAsync(path, "192.0.2.200 app.example.org\n192.0.2.3 new.example.org\n");
            var deadline = DateTime.UtcNow.AddSeconds(5);
            string address;
            do
            {
                var answer = await server.QueryAsync("app.example.org");
                address = answer.Answers.OfType<ARecord>().Single().Address.ToString();
            }
            while (address != "192.0.2.200" && DateTime.UtcNow < deadline && await Pause());
            Assert.Equal("192.0.2.200", address);
            Assert.Equal("192.0.2.3", (await server.QueryAsync("new.example.org")).Answers.OfType<ARecord>().Single().Address.ToString());
            Assert.Equal(2, HostsMetrics.Entries.WithLabels(path).Value);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task<bool> Pause()
    {
        await Task.Delay(50);
        return true;
    }

    [Fact]
    public async Task A_placeholder_inline_line_fails_with_file_line_and_token()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(". {\n    hosts {\n        10.0.0.1 ok.example.org\n        *.*.*.* <hostname>\n    }\n}\n");

        Assert.Equal(4, error.Line);
        Assert.EndsWith("Corefile", error.File);
        Assert.Contains("*.*.*.*", error.Message);
    }

    [Theory]
    [InlineData("ttl abc", 3)]
    [InlineData("reload -1s", 3)]
    [InlineData("10.0.0.1", 3)]
    public async Task Bad_options_fail_with_their_line(string line, int expectedLine)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    hosts {{\n        {line}\n    }}\n}}\n");

        Assert.Equal(expectedLine, error.Line);
    }
}
