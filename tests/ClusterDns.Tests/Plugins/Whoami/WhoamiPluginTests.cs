using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.Whoami;

public sealed class WhoamiPluginTests
{
    [Theory]
    [InlineData(false, "_udp")]
    [InlineData(true, "_tcp")]
    public async Task Answers_with_the_client_address_and_transport(bool tcp, string transportLabel)
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");

        var response = await server.QueryAsync("Example.ORG", DnsType.A, tcp);

        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.Equal("Example.ORG", response.Questions[0].Name.ToString());
        var address = Assert.IsType<ARecord>(response.AdditionalRecords[0]);
        Assert.Equal("127.0.0.1", address.Address.ToString());
        var srv = Assert.IsType<SRVRecord>(response.AdditionalRecords[1]);
        Assert.Equal($"{transportLabel}.Example.ORG", srv.Name.ToString());
        Assert.NotEqual(0, srv.Port);
    }

    [Fact]
    public async Task Rejects_arguments_with_file_and_line()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(". {\n    whoami extra\n}\n");

        Assert.Equal(2, error.Line);
        Assert.EndsWith("Corefile", error.File);
        Assert.Contains("whoami", error.Message);
        Assert.Contains("extra", error.Message);
    }
}
