using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.LoadBalance;

public sealed class LoadBalancePluginTests
{
    private const string Entries = "        10.0.0.1 many.example.org\n        10.0.0.2 many.example.org\n        10.0.0.3 many.example.org\n        10.0.0.4 many.example.org\n";

    private static async Task<HashSet<string>> OrdersAsync(string corefile)
    {
        await using var server = await TestDnsServer.StartAsync(corefile);
        var orders = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            var response = await server.QueryAsync("many.example.org");
            Assert.Equal(4, response.Answers.Count);
            orders.Add(string.Join(',', response.Answers.OfType<ARecord>().Select(a => a.Address.ToString())));
        }
        return orders;
    }

    [Fact]
    public async Task Round_robin_varies_the_order_of_the_answer()
    {
        var orders = await OrdersAsync($". {{\n    loadbalance round_robin\n    hosts /nonexistent {{\n{Entries}    }}\n}}\n");

        Assert.True(orders.Count > 1, "the same order every time");
    }

    [Fact]
    public async Task Without_loadbalance_the_order_stays()
    {
        var orders = await OrdersAsync($". {{\n    hosts /nonexistent {{\n{Entries}    }}\n}}\n");

        Assert.Single(orders);
    }

    [Theory]
    [InlineData("loadbalance weighted /etc/weights")]
    [InlineData("loadbalance fancy")]
    public async Task Unsupported_policies_fail_with_the_line(string line)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    {line}\n}}\n");

        Assert.Equal(2, error.Line);
        Assert.Contains("loadbalance", error.Message);
    }
}
