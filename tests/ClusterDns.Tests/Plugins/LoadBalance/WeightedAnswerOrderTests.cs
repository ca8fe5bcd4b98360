using System.Net;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins.LoadBalance;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.LoadBalance;

/// <summary>The weighted order on whole messages, where a plugin's answer has more than addresses in it.</summary>
public sealed class WeightedAnswerOrderTests
{
    private static readonly DomainName Alias = new("alias.example.org"), Target = new("target.example.org");

    private static (byte[] Message, DnsRequestContext Request) Build(DnsType type, Action<Message> fill)
    {
        var request = new DnsRequestContext();
        var query = DnsTestClient.BuildQuery("alias.example.org", type);
        query.CopyTo(request.QueryBuffer, 0);
        request.Reset(query.Length, DnsTransport.Udp, null, 53, CancellationToken.None);
        Assert.Equal(DnsRequestContext.ParseResult.Ok, request.Parse());
        var message = new Message { QR = true, Id = 1 };
        message.Questions.Add(new Question { Name = Alias, Type = type, Class = DnsClass.IN });
        fill(message);
        return (message.ToByteArray(), request);
    }

    private static WeightedAnswerOrder Order(string weights) => new() { Weights = WeightTable.Parse(weights, "weights") };

    [Fact]
    public void The_cname_chain_stays_ahead_and_the_drawn_address_comes_first()
    {
        var order = Order("target.example.org\n10.0.0.2 255\n");
        var (bytes, request) = Build(DnsType.A, m =>
        {
            m.Answers.Add(new CNAMERecord { Name = Alias, Target = Target });
            m.Answers.Add(new ARecord { Name = Target, Address = IPAddress.Parse("10.0.0.1") });
            m.Answers.Add(new ARecord { Name = Target, Address = IPAddress.Parse("10.0.0.2") });
        });
        var firsts = new Dictionary<string, int>();
        var random = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            var copy = (byte[])bytes.Clone();
            order.Apply(request, copy, random);
            var answer = (Message)new Message().Read(copy);
            Assert.IsType<CNAMERecord>(answer.Answers[0]);
            var first = ((ARecord)answer.Answers[1]).Address.ToString();
            firsts[first] = firsts.GetValueOrDefault(first) + 1;
            Assert.Equal(3, answer.Answers.Count);
        }
        // 255 against 1: the unweighted address comes first about once in 256.
        Assert.True(firsts.GetValueOrDefault("10.0.0.2") >= 195, string.Join(',', firsts));
    }

    [Fact]
    public void An_srv_answer_has_the_drawn_target_address_first_in_the_additional_section()
    {
        var order = Order("a.example.org\n10.0.0.1 1\nb.example.org\n10.0.0.2 200\n");
        var (bytes, request) = Build(DnsType.SRV, m =>
        {
            m.Answers.Add(new SRVRecord { Name = Alias, Target = new DomainName("a.example.org"), Port = 80 });
            m.Answers.Add(new SRVRecord { Name = Alias, Target = new DomainName("b.example.org"), Port = 80 });
            m.AdditionalRecords.Add(new ARecord { Name = new DomainName("a.example.org"), Address = IPAddress.Parse("10.0.0.1") });
            m.AdditionalRecords.Add(new ARecord { Name = new DomainName("b.example.org"), Address = IPAddress.Parse("10.0.0.2") });
        });
        var second = 0;
        var random = new Random(3);
        for (var i = 0; i < 100; i++)
        {
            var copy = (byte[])bytes.Clone();
            order.Apply(request, copy, random);
            var answer = (Message)new Message().Read(copy);
            Assert.Equal(2, answer.AdditionalRecords.Count);
            if (((ARecord)answer.AdditionalRecords[0]).Address.ToString() == "10.0.0.2") second++;
            Assert.Equal("a.example.org", ((SRVRecord)answer.Answers[0]).Target.ToString());
        }
        Assert.True(second >= 95, $"{second} of 100");
    }

    [Fact]
    public void Other_query_types_are_left_alone()
    {
        var order = Order("alias.example.org\n10.0.0.2 255\n");
        var (bytes, request) = Build(DnsType.MX, m =>
        {
            m.AdditionalRecords.Add(new ARecord { Name = Alias, Address = IPAddress.Parse("10.0.0.1") });
            m.AdditionalRecords.Add(new ARecord { Name = Alias, Address = IPAddress.Parse("10.0.0.2") });
        });
        var copy = (byte[])bytes.Clone();

        order.Apply(request, copy, new Random(1));

        Assert.Equal(bytes, copy);
    }
}
