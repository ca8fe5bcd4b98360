using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Transport;

public sealed class TruncationTests
{
    [Fact]
    public async Task Udp_answer_over_512_bytes_without_edns_is_truncated_with_the_question_kept()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami 60\n}\n", BulkAnswerPlugin.Catalog());

        var bytes = await DnsTestClient.ExchangeUdpAsync(server.EndPoint, DnsTestClient.BuildQuery("big.example.", DnsType.A));

        Assert.NotNull(bytes);
        Assert.True(bytes.Length <= 512, $"{bytes.Length} bytes");
        var response = DnsTestClient.Parse(bytes);
        Assert.True(response.TC);
        Assert.Empty(response.Answers);
        Assert.Equal("big.example", response.Questions[0].Name.ToString());
    }

    [Fact]
    public async Task Edns_client_gets_up_to_its_advertised_size_and_the_opt_record_back()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami 60\n}\n", BulkAnswerPlugin.Catalog());

        var response = await server.QueryAsync("big.example.", DnsType.A, udpSize: 4096);

        Assert.False(response.TC);
        Assert.Equal(60, response.Answers.Count);
        Assert.Contains(response.AdditionalRecords, r => r is OPTRecord);
    }

    [Fact]
    public async Task Edns_client_with_a_small_size_is_truncated_and_tcp_gets_it_whole()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami 300\n}\n", BulkAnswerPlugin.Catalog());

        var udp = await server.QueryAsync("big.example.", DnsType.A, udpSize: 1232);
        var tcp = await server.QueryAsync("big.example.", DnsType.A, tcp: true);

        Assert.True(udp.TC);
        Assert.Empty(udp.Answers);
        Assert.Contains(udp.AdditionalRecords, r => r is OPTRecord);
        Assert.False(tcp.TC);
        Assert.Equal(300, tcp.Answers.Count);
    }

    [Fact]
    public async Task No_opt_record_goes_to_a_client_that_sent_none()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami 1\n}\n", BulkAnswerPlugin.Catalog());

        var response = await server.QueryAsync("small.example.", DnsType.A);

        Assert.DoesNotContain(response.AdditionalRecords, r => r is OPTRecord);
        Assert.Single(response.Answers);
    }
}
