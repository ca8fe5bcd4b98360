using ClusterDns.Server.Plugins;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.Any;

public sealed class AnyPluginTests
{
    [Fact]
    public async Task Answers_ANY_with_the_RFC_8482_HINFO_and_passes_other_types_on()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    any\n    whoami\n}\n", BuiltInPlugins.CreateCatalog());

        var any = await server.QueryAsync("Example.ORG", DnsType.ANY);
        var a = await server.QueryAsync("example.org", DnsType.A);

        Assert.Equal(MessageStatus.NoError, any.Status);
        var hinfo = Assert.IsType<HINFORecord>(Assert.Single(any.Answers));
        Assert.Equal("Example.ORG", hinfo.Name.ToString());
        Assert.Equal("ANY obsoleted", hinfo.Cpu);
        Assert.Equal("See RFC 8482", hinfo.OS);
        Assert.Equal(TimeSpan.FromSeconds(8482), hinfo.TTL);
        Assert.Empty(a.Answers);
        Assert.IsType<ARecord>(a.AdditionalRecords[0]); // whoami answered
    }

    [Fact]
    public async Task Rejects_arguments()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(". {\n    any all\n}\n", BuiltInPlugins.CreateCatalog());

        Assert.Equal(2, error.Line);
        Assert.Contains("all", error.Message);
    }
}
