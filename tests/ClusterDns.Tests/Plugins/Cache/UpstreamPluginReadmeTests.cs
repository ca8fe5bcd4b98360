using System.Text.RegularExpressions;
using ClusterDns.Tests.Infrastructure;

namespace ClusterDns.Tests.Plugins.Cache;

/// <summary>Every Corefile example in the READMEs of forward, cache, hosts, loadbalance and loop sets up.</summary>
public sealed partial class UpstreamPluginReadmeTests
{
    public static TheoryData<string, int> Examples()
    {
        var data = new TheoryData<string, int>();
        foreach (var plugin in new[] { "Forward", "Cache", "Hosts", "LoadBalance", "Loop" })
        {
            var text = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "src", "ClusterDns.Server", "Plugins", plugin, "README.md"));
            var index = 0;
            foreach (Match match in CorefileFence().Matches(text)) data.Add(plugin, index++);
        }
        return data;
    }

    [GeneratedRegex("~~~ corefile\n(.*?)~~~", RegexOptions.Singleline)]
    private static partial Regex CorefileFence();

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task The_example_sets_up(string plugin, int index)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "src", "ClusterDns.Server", "Plugins", plugin, "README.md"));
        var corefile = CorefileFence().Matches(text)[index].Groups[1].Value;

        await using var server = await TestDnsServer.StartAsync(corefile);

        Assert.NotNull(server.Host.Current);
    }
}
