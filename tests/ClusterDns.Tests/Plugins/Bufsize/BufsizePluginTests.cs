using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins;
using ClusterDns.Server.Wire;
using ClusterDns.Tests.Infrastructure;
using ClusterDns.Tests.Plugins.Operations;
using Makaretu.Dns;
using DnsType = Makaretu.Dns.DnsType;

namespace ClusterDns.Tests.Plugins.Bufsize;

public sealed class BufsizePluginTests
{
    /// <summary>Answers with 90 A records: about 1,470 bytes.</summary>
    private sealed class LargeAnswerPlugin : DnsPlugin
    {
        public override string Name => "hosts";

        public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
        {
            var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NoError, authoritative: true);
            for (var i = 0; i < 90; i++) builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, ClusterDns.Server.Wire.DnsType.A, 30, [10, 0, 0, (byte)i]);
            var length = builder.Finish();
            writer.Write(request, request.ResponseBuffer[..length]);
            return new ValueTask<int>(DnsRcode.NoError);
        }
    }

    private static Task<TestDnsServer> StartAsync(string bufsize) =>
        TestDnsServer.StartAsync($". {{\n    {bufsize}\n    hosts\n}}\n", BuiltInPlugins.CreateCatalog().Set(OperationsTestKit.Fixed("hosts", new LargeAnswerPlugin())));

    [Fact]
    public async Task A_UDP_answer_larger_than_the_size_comes_truncated_with_TC()
    {
        await using var server = await StartAsync("bufsize");

        var answer = await server.QueryAsync("big.example", DnsType.A, udpSize: 4096);

        Assert.True(answer.TC);
        Assert.Empty(answer.Answers);
        var opt = Assert.IsType<OPTRecord>(Assert.Single(answer.AdditionalRecords));
        Assert.Equal(1232, opt.RequestorPayloadSize);
        Assert.Equal(90, (await server.QueryAsync("big.example", DnsType.A, tcp: true)).Answers.Count);
    }

    [Fact]
    public async Task A_larger_size_lets_the_same_answer_through()
    {
        await using var server = await StartAsync("bufsize 1500");

        var answer = await server.QueryAsync("big.example", DnsType.A, udpSize: 4096);

        Assert.False(answer.TC);
        Assert.Equal(90, answer.Answers.Count);
    }

    [Fact]
    public async Task The_smallest_size_is_advertised_and_enforced()
    {
        await using var server = await StartAsync("bufsize 512");

        var answer = await server.QueryAsync("big.example", DnsType.A, udpSize: 1232);

        Assert.True(answer.TC);
        Assert.Equal(512, Assert.IsType<OPTRecord>(Assert.Single(answer.AdditionalRecords)).RequestorPayloadSize);
    }

    [Theory]
    [InlineData("bufsize 511", "511")]
    [InlineData("bufsize 4097", "4097")]
    [InlineData("bufsize big", "big")]
    [InlineData("bufsize 1232 1400", "1400")]
    public async Task Rejects_sizes_out_of_range_with_file_and_line(string directive, string culprit)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    {directive}\n}}\n", BuiltInPlugins.CreateCatalog());

        Assert.Equal(2, error.Line);
        Assert.Contains(culprit, error.Message);
    }
}
