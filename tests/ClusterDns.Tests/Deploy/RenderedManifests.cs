using System.Diagnostics;
using k8s;
using k8s.Models;

namespace ClusterDns.Tests.Deploy;

/// <summary>
/// What `kubectl kustomize` renders for one kustomization under deploy/, loaded into the client library's typed
/// objects (strictly: a misspelt field fails the load, as `kubectl apply` would reject it).
/// </summary>
public sealed class RenderedManifests
{
    private static readonly TimeSpan KustomizeTimeout = TimeSpan.FromSeconds(60);

    private RenderedManifests(string yaml, IReadOnlyList<object> objects)
    {
        Yaml = yaml;
        Objects = objects;
    }

    public string Yaml { get; }

    public IReadOnlyList<object> Objects { get; }

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static RenderedManifests Render(string kustomizationDirectory)
    {
        var yaml = RunKustomize(Path.Combine(RepositoryRoot, kustomizationDirectory));
        var objects = new List<object>();
        foreach (var document in SplitDocuments(yaml))
        {
            var loaded = KubernetesYaml.LoadAllFromString(document, typeMap: null, strict: true);
            if (loaded.Count != 1)
            {
                throw new InvalidDataException($"Expected one object in a rendered document, got {loaded.Count}:\n{document}");
            }

            objects.Add(loaded[0]);
        }

        return new RenderedManifests(yaml, objects);
    }

    public IEnumerable<T> All<T>() where T : IKubernetesObject<V1ObjectMeta> => Objects.OfType<T>();

    /// <summary>The one object of that type and name; fails when there is none or more than one.</summary>
    public T Single<T>(string name) where T : IKubernetesObject<V1ObjectMeta>
    {
        var matches = All<T>().Where(o => o.Metadata.Name == name).ToList();
        if (matches.Count != 1)
        {
            throw new Xunit.Sdk.XunitException(
                $"Expected exactly one {typeof(T).Name} named {name}, found {matches.Count}.");
        }

        return matches[0];
    }

    public IEnumerable<(string Kind, string? Namespace, string Name)> Identities() =>
        Objects.OfType<IKubernetesObject<V1ObjectMeta>>()
            .Select(o => (o.Kind, (string?)o.Metadata.NamespaceProperty, o.Metadata.Name));

    private static IEnumerable<string> SplitDocuments(string yaml)
    {
        var current = new List<string>();
        foreach (var line in yaml.Split('\n'))
        {
            if (line.TrimEnd() == "---")
            {
                if (current.Any(l => l.Trim().Length > 0))
                {
                    yield return string.Join('\n', current);
                }

                current.Clear();
                continue;
            }

            current.Add(line);
        }

        if (current.Any(l => l.Trim().Length > 0))
        {
            yield return string.Join('\n', current);
        }
    }

    private static string RunKustomize(string directory)
    {
        var kubectl = Environment.GetEnvironmentVariable("KUBECTL") ?? "kubectl";
        var startInfo = new ProcessStartInfo(kubectl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("kustomize");
        startInfo.ArgumentList.Add(directory);

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start {kubectl}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(KustomizeTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{kubectl} kustomize {directory}` did not finish within {KustomizeTimeout}.");
        }

        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"`{kubectl} kustomize {directory}` exited with {process.ExitCode}: {stderr.GetAwaiter().GetResult()}");
        }

        return stdout.GetAwaiter().GetResult();
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ClusterDns.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No ClusterDns.sln above {AppContext.BaseDirectory}.");
    }
}
