using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Plugins;
using ClusterDns.Server.Plugins.Bind;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Plugins.Operations;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.Bind;

public sealed class BindPluginTests
{
    [Fact]
    public async Task Binds_only_the_given_address()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    bind 127.0.0.1\n    whoami\n}\n", BuiltInPlugins.CreateCatalog());

        var endPoint = Assert.Single(server.Host.UdpEndPoints);
        Assert.Equal(IPAddress.Loopback, endPoint.Address);
        Assert.Equal(MessageStatus.NoError, (await server.QueryAsync("example.org")).Status);

        // 127.0.0.2 reaches this host too, but nothing listens there.
        byte[]? other;
        try
        {
            other = await DnsTestClient.ExchangeUdpAsync(new IPEndPoint(IPAddress.Parse("127.0.0.2"), endPoint.Port),
                DnsTestClient.BuildQuery("example.org", DnsType.A), TimeSpan.FromMilliseconds(500));
        }
        catch (SocketException)
        {
            other = null;
        }
        Assert.Null(other);
    }

    [Fact]
    public void Resolves_interface_names_and_removes_the_except_ones()
    {
        var directive = DirectiveParsing.First(". {\n    bind eth0 192.0.2.1 {\n        except fe80::1\n    }\n}\n");
        IReadOnlyList<IPAddress>? Interfaces(string name) => name == "eth0" ? [IPAddress.Parse("10.0.0.5"), IPAddress.Parse("fe80::1")] : null;

        var addresses = BindPlugin.ParseAddresses(directive, Interfaces);

        Assert.Equal([IPAddress.Parse("10.0.0.5"), IPAddress.Parse("192.0.2.1")], addresses);
    }

    [Fact]
    public void Resolves_the_loopback_interface_of_this_machine()
    {
        var addresses = BindPlugin.ParseAddresses(DirectiveParsing.First(". {\n    bind lo\n}\n"), BindPlugin.InterfaceAddresses);

        Assert.Contains(IPAddress.Loopback, addresses);
    }

    [Theory]
    [InlineData("bind", "at least one")]
    [InlineData("bind nosuchif0", "nosuchif0")]
    [InlineData("bind 127.0.0.1 {\n        except 127.0.0.1\n    }", "no address left")]
    public async Task Rejects_what_cannot_be_bound_with_file_and_line(string directive, string detail)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    {directive}\n}}\n", BuiltInPlugins.CreateCatalog());

        Assert.Equal(2, error.Line);
        Assert.Contains(detail, error.Message);
    }
}
