using ClusterDns.KubeEmulator;
using k8s;
using k8s.Models;

namespace ClusterDns.Tests.KubeEmulator;

/// <summary>Chunked lists over HTTP through KubernetesClient, on more objects than one block of the key index holds.</summary>
public sealed class ListPagingTests
{
    private static async Task<(KubeApiEmulator Emulator, k8s.Kubernetes Client)> StartAsync(int namespaces, int services, int pods)
    {
        var emulator = await KubeApiEmulator.StartAsync(new KubeEmulatorOptions());
        ClusterFixtures.AddSyntheticCluster(emulator.Store, namespaces, services, pods);
        var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = emulator.BaseAddress.ToString() });
        return (emulator, client);
    }

    private static string Key(V1Pod p) => $"{p.Metadata.NamespaceProperty}/{p.Metadata.Name}";

    [Fact]
    public async Task PagingEveryPod_ReturnsEachOnceInKeyOrder_WithTheRemainingCountOnEveryPage()
    {
        var (emulator, client) = await StartAsync(3, 20, 30);
        await using var _ = emulator;
        using var __ = client;

        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await client.CoreV1.ListPodForAllNamespacesAsync(limit: 170, continueParameter: token);
            seen.AddRange(page.Items.Select(Key));
            token = page.Metadata.ContinueProperty;
            if (token is null) Assert.Null(page.Metadata.RemainingItemCount);
            else Assert.Equal(1800 - seen.Count, page.Metadata.RemainingItemCount);
        }
        while (token is not null);

        Assert.Equal(1800, seen.Count);
        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.Equal(1800, seen.Distinct().Count());
    }

    [Fact]
    public async Task PagingOneNamespace_StaysInsideIt_EvenBesideANamespaceWhoseNameExtendsIt()
    {
        var (emulator, client) = await StartAsync(11, 20, 30);
        await using var _ = emulator;
        using var __ = client;

        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await client.CoreV1.ListNamespacedPodAsync("ns-1", limit: 250, continueParameter: token);
            seen.AddRange(page.Items.Select(Key));
            token = page.Metadata.ContinueProperty;
            if (token is not null) Assert.Equal(600 - seen.Count, page.Metadata.RemainingItemCount);
        }
        while (token is not null);

        Assert.Equal(600, seen.Count);
        Assert.All(seen, k => Assert.StartsWith("ns-1/", k, StringComparison.Ordinal));
        Assert.Equal(600, seen.Distinct().Count());
    }

    [Fact]
    public async Task WritesBetweenPages_DoNotShowInLaterPages_NorInTheirRemainingCount()
    {
        var (emulator, client) = await StartAsync(2, 10, 60);
        await using var _ = emulator;
        using var __ = client;

        var first = await client.CoreV1.ListPodForAllNamespacesAsync(limit: 500);
        Assert.Equal(700, first.Metadata.RemainingItemCount);
        // After the first page: two pods ahead are deleted, one is added ahead, one already listed is deleted.
        Assert.Equal(500, first.Items.Count);
        Assert.True(emulator.Store.Delete<V1Pod>("ns-1", "pod-svc-9-59"));
        Assert.True(emulator.Store.Delete<V1Pod>("ns-1", "pod-svc-9-58"));
        emulator.Store.Apply(new V1Pod
        {
            ApiVersion = "v1",
            Kind = "Pod",
            Metadata = new V1ObjectMeta { Name = "pod-zz-late", NamespaceProperty = "ns-1" },
            Status = new V1PodStatus { Phase = "Running", PodIP = "10.250.0.1" },
        });
        Assert.True(emulator.Store.Delete<V1Pod>(first.Items[0].Metadata.NamespaceProperty, first.Items[0].Metadata.Name));

        var seen = first.Items.Select(Key).ToList();
        string? token = first.Metadata.ContinueProperty;
        int pages = 1;
        while (token is not null)
        {
            var page = await client.CoreV1.ListPodForAllNamespacesAsync(limit: 500, continueParameter: token);
            Assert.Equal(first.Metadata.ResourceVersion, page.Metadata.ResourceVersion);
            seen.AddRange(page.Items.Select(Key));
            token = page.Metadata.ContinueProperty;
            if (token is not null) Assert.Equal(1200 - seen.Count, page.Metadata.RemainingItemCount);
            pages++;
        }

        Assert.Equal(3, pages);
        Assert.Equal(1200, seen.Count);
        Assert.Contains("ns-1/pod-svc-9-59", seen);
        Assert.Contains("ns-1/pod-svc-9-58", seen);
        Assert.DoesNotContain("ns-1/pod-zz-late", seen);
        Assert.Equal(1200, seen.Distinct().Count());
    }

    [Fact]
    public async Task PagingWithALabelSelector_ReturnsEveryMatch_WithoutARemainingCount()
    {
        var (emulator, client) = await StartAsync(3, 20, 30);
        await using var _ = emulator;
        using var __ = client;

        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await client.CoreV1.ListPodForAllNamespacesAsync(labelSelector: "app in (svc-3, svc-17)", limit: 40, continueParameter: token);
            Assert.Null(page.Metadata.RemainingItemCount);
            Assert.All(page.Items, p => Assert.Contains(p.Metadata.Labels["app"], new[] { "svc-3", "svc-17" }));
            seen.AddRange(page.Items.Select(Key));
            token = page.Metadata.ContinueProperty;
        }
        while (token is not null);

        Assert.Equal(180, seen.Count);
        Assert.Equal(180, seen.Distinct().Count());
    }
}
