using ClusterDns.Server.Corefile;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Plugins.LoadBalance;

public sealed class LoadBalancePluginTests : IDisposable
{
    private const string Entries = "        10.0.0.1 many.example.org\n        10.0.0.2 many.example.org\n        10.0.0.3 many.example.org\n        10.0.0.4 many.example.org\n"
        + "        fd00::1 many.example.org\n        fd00::2 many.example.org\n";

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("clusterdns-lb-");

    public void Dispose() => _directory.Delete(recursive: true);

    private string WeightFile(string text)
    {
        var path = Path.Combine(_directory.FullName, "weights");
        File.WriteAllText(path, text);
        return path;
    }

    private static string Corefile(string loadbalance) => $". {{\n    {loadbalance}\n    hosts /nonexistent {{\n{Entries}    }}\n}}\n";

    private static async Task<List<List<string>>> AnswersAsync(TestDnsServer server, int count, string name = "many.example.org", DnsType type = DnsType.A)
    {
        var answers = new List<List<string>>();
        for (var i = 0; i < count; i++)
        {
            var response = await server.QueryAsync(name, type);
            answers.Add([.. response.Answers.Select(r => r is ARecord a ? a.Address.ToString() : ((AAAARecord)r).Address.ToString())]);
        }
        return answers;
    }

    private static Dictionary<string, int> FirstCounts(List<List<string>> answers) =>
        answers.GroupBy(a => a[0]).ToDictionary(g => g.Key, g => g.Count());

    [Fact]
    public async Task Round_robin_varies_the_order_of_the_answer()
    {
        await using var server = await TestDnsServer.StartAsync(Corefile("loadbalance round_robin"));

        var orders = (await AnswersAsync(server, 20)).Select(a => string.Join(',', a)).ToHashSet();

        Assert.True(orders.Count > 1, "the same order every time");
    }

    [Fact]
    public async Task Without_loadbalance_the_order_stays()
    {
        await using var server = await TestDnsServer.StartAsync($". {{\n    hosts /nonexistent {{\n{Entries}    }}\n}}\n");

        var orders = (await AnswersAsync(server, 20)).Select(a => string.Join(',', a)).ToHashSet();

        Assert.Single(orders);
    }

    [Fact]
    public async Task Weighted_puts_each_address_first_in_proportion_to_its_weight_and_unlisted_ones_weigh_1()
    {
        var path = WeightFile("# weights\n\nmany.example.org\n10.0.0.1 6\n10.0.0.2 2\n\nother.example.org\n10.0.0.3 100\n");
        await using var server = await TestDnsServer.StartAsync(Corefile($"loadbalance weighted {path} {{\n        reload 0s\n    }}"));

        var answers = await AnswersAsync(server, 1000);

        Assert.All(answers, a => Assert.Equal(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"], a.Order()));
        var first = FirstCounts(answers);
        // Weights 6, 2, 1, 1 (10.0.0.3 is weighted only under another name): 600, 200, 100, 100 expected of 1000.
        Assert.InRange(first["10.0.0.1"], 540, 660);
        Assert.InRange(first["10.0.0.2"], 160, 240);
        Assert.InRange(first["10.0.0.3"], 70, 130);
        Assert.InRange(first["10.0.0.4"], 70, 130);
    }

    [Fact]
    public async Task Weighted_matches_names_in_any_case_and_weighs_aaaa_records()
    {
        var path = WeightFile("MANY.example.org.\nfd00::2 50\n");
        await using var server = await TestDnsServer.StartAsync(Corefile($"loadbalance weighted {path}"));

        var first = FirstCounts(await AnswersAsync(server, 300, "Many.Example.Org", DnsType.AAAA));

        Assert.InRange(first["fd00::2"], 270, 300);
    }

    [Fact]
    public async Task Weighted_reloads_the_weight_file_when_it_changes_and_keeps_the_weights_when_it_breaks()
    {
        var path = WeightFile("many.example.org\n10.0.0.4 255\n");
        await using var server = await TestDnsServer.StartAsync(Corefile($"loadbalance weighted {path} {{\n        reload 100ms\n    }}"));
        Assert.True(FirstCounts(await AnswersAsync(server, 100))["10.0.0.4"] > 90);

        File.WriteAllText(path, "many.example.org\n10.0.0.2 255\n");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (FirstCounts(await AnswersAsync(server, 20)).GetValueOrDefault("10.0.0.2") < 18 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.True(FirstCounts(await AnswersAsync(server, 100)).GetValueOrDefault("10.0.0.2") > 90);

        File.WriteAllText(path, "many.example.org\n10.0.0.9\n");
        await Task.Delay(500);
        Assert.True(FirstCounts(await AnswersAsync(server, 100)).GetValueOrDefault("10.0.0.2") > 90);
    }

    [Fact]
    public async Task A_weight_file_that_appears_later_is_read_when_reload_is_on()
    {
        var path = Path.Combine(_directory.FullName, "later");
        await using var server = await TestDnsServer.StartAsync(Corefile($"loadbalance weighted {path} {{\n        reload 100ms\n    }}"));
        Assert.Equal(4, (await AnswersAsync(server, 1))[0].Count);

        File.WriteAllText(path, "many.example.org\n10.0.0.3 255\n");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (FirstCounts(await AnswersAsync(server, 20)).GetValueOrDefault("10.0.0.3") < 18 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.True(FirstCounts(await AnswersAsync(server, 100)).GetValueOrDefault("10.0.0.3") > 90);
    }

    [Theory]
    [InlineData("many.example.org\n10.0.0.1\n", 2, "10.0.0.1")]
    [InlineData("many.example.org\n10.0.0.300 2\n", 2, "10.0.0.300")]
    [InlineData("many.example.org\n10.0.0.1 0\n", 2, "'0'")]
    [InlineData("many.example.org\n10.0.0.1 256\n", 2, "'256'")]
    [InlineData("# no domain yet\n10.0.0.1 3\n", 2, "before any domain")]
    [InlineData("many.example.org\n\n10.0.0.1 3 extra\n", 3, "10.0.0.1 3 extra")]
    public async Task A_bad_weight_file_fails_the_start_with_its_line_and_the_corefile_line(string text, int weightLine, string token)
    {
        var path = WeightFile(text);

        var error = await TestDnsServer.StartExpectingErrorAsync(Corefile($"loadbalance weighted {path}"));

        Assert.Equal(2, error.Line);
        Assert.Contains($"{path}:{weightLine}:", error.Message);
        Assert.Contains(token, error.Message);
    }

    [Fact]
    public async Task A_missing_weight_file_without_reload_fails_the_start()
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(Corefile($"loadbalance weighted {Path.Combine(_directory.FullName, "none")} {{\n        reload 0s\n    }}"));

        Assert.Equal(2, error.Line);
        Assert.Contains("weight file", error.Message);
    }

    [Theory]
    [InlineData("loadbalance")]
    [InlineData("loadbalance round_robin")]
    [InlineData("loadbalance weighted WEIGHTS")]
    [InlineData("loadbalance weighted WEIGHTS {\n        reload 10s\n    }")]
    [InlineData("loadbalance weighted WEIGHTS {\n        reload 0s\n    }")]
    public void CoreDNS_setups_are_accepted(string line)
    {
        var path = WeightFile("many.example.org\n10.0.0.1 2\n");
        var document = CorefileParser.Parse(Corefile(line.Replace("WEIGHTS", path)), "Corefile");

        var options = Server.Plugins.LoadBalance.LoadBalanceOptions.Parse(document.ServerBlocks[0].Directives.Single(d => d.Name == "loadbalance"));

        Assert.Equal(line.Contains("weighted") ? Server.Plugins.LoadBalance.LoadBalancePolicy.Weighted : Server.Plugins.LoadBalance.LoadBalancePolicy.RoundRobin, options.Policy);
    }

    [Theory]
    [InlineData("loadbalance fleeb", 2, "fleeb")]
    [InlineData("loadbalance round_robin a", 2, "'a'")]
    [InlineData("loadbalance weighted", 2, "WEIGHTFILE")]
    [InlineData("loadbalance weighted a b", 2, "'b'")]
    [InlineData("loadbalance weighted wfile {\n        susu\n    }", 3, "susu")]
    [InlineData("loadbalance weighted wfile {\n        reload a\n    }", 3, "'a'")]
    [InlineData("loadbalance weighted wfile {\n        reload 30s a\n    }", 3, "'a'")]
    [InlineData("loadbalance round_robin {\n        reload 30s\n    }", 3, "reload")]
    public async Task CoreDNS_setup_mistakes_fail_with_the_line_and_the_token(string line, int expectedLine, string token)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync(Corefile(line));

        Assert.Equal(expectedLine, error.Line);
        Assert.Contains(token, error.Message);
    }
}
