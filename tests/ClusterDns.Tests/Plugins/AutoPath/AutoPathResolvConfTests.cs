using System.Net;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.AutoPath;

/// <summary>
/// autopath with a RESOLV-CONF search list (the same for every client), in front of a stand-in upstream (in the
/// place of forward) whose answers are compressed, chained and sometimes truncated, as real upstream answers are.
/// </summary>
public sealed class AutoPathResolvConfTests : IAsyncLifetime
{
    private TestDnsServer _server = null!;
    private string _resolvConf = null!;

    public async Task InitializeAsync()
    {
        _resolvConf = Path.GetTempFileName();
        await File.WriteAllTextAsync(_resolvConf, "nameserver 10.0.0.1\nsearch A.example b.example\noptions ndots:5\n");
        var catalog = BuiltInPlugins.CreateCatalog().Set(new PluginDefinition("forward", (_, _) => new StandInUpstream()));
        _server = await TestDnsServer.StartAsync($". {{\n    autopath {_resolvConf}\n    forward . 10.0.0.1\n}}\n", catalog);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        File.Delete(_resolvConf);
    }

    [Fact]
    public async Task A_chained_compressed_upstream_answer_arrives_whole_behind_the_CNAME()
    {
        var response = await _server.QueryAsync("www.example.org.a.example");

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.Equal(3, response.Answers.Count);
        Assert.Equal("www.example.org", Assert.IsType<CNAMERecord>(response.Answers[0]).Target.ToString());
        var chained = Assert.IsType<CNAMERecord>(response.Answers[1]);
        Assert.Equal("www.example.org", chained.Name.ToString());
        Assert.Equal("web.example.org", chained.Target.ToString());
        var address = Assert.IsType<ARecord>(response.Answers[2]);
        Assert.Equal("web.example.org", address.Name.ToString());
        Assert.Equal("192.0.2.1", address.Address.ToString());
        var ns = Assert.IsType<NSRecord>(Assert.Single(response.AuthorityRecords));
        Assert.Equal("ns1.example.org", ns.Authority.ToString());
        var glue = Assert.IsType<ARecord>(Assert.Single(response.AdditionalRecords));
        Assert.Equal("ns1.example.org", glue.Name.ToString());
    }

    [Fact]
    public async Task A_later_search_domain_is_found()
    {
        var response = await _server.QueryAsync("host.a.example", DnsType.MX);

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.Equal("host.b.example", Assert.IsType<CNAMERecord>(response.Answers[0]).Target.ToString());
        var mx = Assert.IsType<MXRecord>(response.Answers[1]);
        Assert.Equal("mail.b.example", mx.Exchange.ToString());
    }

    [Fact]
    public async Task A_truncated_upstream_answer_sends_the_client_to_TCP_where_it_is_whole()
    {
        var overUdp = await _server.QueryAsync("big.example.org.a.example");
        Assert.True(overUdp.TC);
        Assert.Empty(overUdp.Answers);

        var overTcp = await _server.QueryAsync("big.example.org.a.example", tcp: true);
        Assert.False(overTcp.TC);
        Assert.Equal("big.example.org", Assert.IsType<CNAMERecord>(overTcp.Answers[0]).Target.ToString());
        Assert.Equal(20, overTcp.Answers.OfType<ARecord>().Count());
    }

    [Fact]
    public async Task A_name_that_is_not_the_first_search_step_is_left_alone()
    {
        Assert.Equal(MessageStatus.NameError, (await _server.QueryAsync("www.example.org.b.example")).Status);
    }

    /// <summary>An upstream: www (a CNAME chain with NS and glue), big (20 addresses, cut over UDP), host.b.example MX.</summary>
    private sealed class StandInUpstream : DnsPlugin
    {
        public override string Name => "forward";

        public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
        {
            var name = request.Name.TrimEnd('.');
            var message = new Message { Id = request.Id, QR = true, RD = request.RecursionDesired, RA = true };
            message.Questions.Add(new Question { Name = name, Type = (DnsType)request.QType, Class = Makaretu.Dns.DnsClass.IN });
            switch (name)
            {
                case "www.example.org":
                    message.Answers.Add(new CNAMERecord { Name = name, Target = "web.example.org", TTL = TimeSpan.FromSeconds(60) });
                    message.Answers.Add(new ARecord { Name = "web.example.org", Address = IPAddress.Parse("192.0.2.1"), TTL = TimeSpan.FromSeconds(60) });
                    message.AuthorityRecords.Add(new NSRecord { Name = "example.org", Authority = "ns1.example.org" });
                    message.AdditionalRecords.Add(new ARecord { Name = "ns1.example.org", Address = IPAddress.Parse("192.0.2.53") });
                    break;
                case "big.example.org" when request.Transport == DnsTransport.Udp:
                    message.TC = true;
                    break;
                case "big.example.org":
                    for (var i = 1; i <= 20; i++) message.Answers.Add(new ARecord { Name = name, Address = IPAddress.Parse($"192.0.2.{i}") });
                    break;
                case "host.b.example":
                    message.Answers.Add(new MXRecord { Name = name, Preference = 10, Exchange = "mail.b.example" });
                    break;
                default:
                    message.Status = MessageStatus.NameError;
                    message.AuthorityRecords.Add(new SOARecord { Name = "example", PrimaryName = "ns.example", Mailbox = "hostmaster.example", Minimum = TimeSpan.FromSeconds(30) });
                    break;
            }
            var bytes = message.ToByteArray();
            writer.Write(request, bytes);
            return new ValueTask<int>(bytes[3] & 0x0F);
        }
    }
}
