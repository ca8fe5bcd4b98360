using System.Text.RegularExpressions;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClusterDns.Tests.Readme;

/// <summary>Every plugin README is a page an operator reads: its sections exist and its Corefile examples set up.</summary>
public sealed partial class PluginReadmeTests
{
    public static TheoryData<string> Readmes()
    {
        var data = new TheoryData<string>();
        foreach (var path in PluginReadmePaths()) data.Add(Path.GetRelativePath(RepositoryPaths.Root, path));
        return data;
    }

    private static IEnumerable<string> PluginReadmePaths()
    {
        var plugins = Path.Combine(RepositoryPaths.Root, "src", "ClusterDns.Server", "Plugins");
        foreach (var directory in Directory.GetDirectories(plugins))
        {
            yield return Path.Combine(directory, "README.md");
        }
        var kubernetes = Path.Combine(RepositoryPaths.Root, "src", "ClusterDns.Kubernetes", "README.md");
        if (File.Exists(kubernetes)) yield return kubernetes;
    }

    [Theory]
    [MemberData(nameof(Readmes))]
    public void Readme_has_the_sections_an_operator_looks_for(string relativePath)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryPaths.Root, relativePath));

        foreach (var section in new[] { "## Name", "## Description", "## Syntax", "## Examples" }) Assert.Contains(section, text);
    }

    [Theory]
    [MemberData(nameof(Readmes))]
    public void Every_corefile_example_sets_up(string relativePath)
    {
        var path = Path.Combine(RepositoryPaths.Root, relativePath);
        var examples = CorefileFence().Matches(File.ReadAllText(path));
        Assert.NotEmpty(examples);
        var catalog = PluginRegistration.CreateCatalog();
        foreach (Match example in examples)
        {
            var document = CorefileParser.Parse(example.Groups[1].Value, path);
            var services = new ServerServices(NullLoggerFactory.Instance);
            try
            {
                ServerConfiguration.Build(document, catalog, services, defaultPort: 0);
            }
            catch (CorefileException exception)
            {
                Assert.Fail($"{relativePath}: example does not set up: {exception.Message}\n{example.Groups[1].Value}");
            }
        }
    }

    [GeneratedRegex(@"~~~ ?corefile\n(.*?)~~~", RegexOptions.Singleline)]
    private static partial Regex CorefileFence();
}
