using ClusterDns.KubeEmulator;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace ClusterDns.Tests.KubeEmulator;

/// <summary>Drives the emulator through the official KubernetesClient, as the DNS server's informers do.</summary>
public sealed class KubeApiEmulatorClientTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static async Task<(KubeApiEmulator Emulator, k8s.Kubernetes Client)> StartAsync(KubeEmulatorOptions? options = null)
    {
        var emulator = await KubeApiEmulator.StartAsync(options ?? new KubeEmulatorOptions());
        var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = emulator.BaseAddress.ToString() });
        return (emulator, client);
    }

    private static V1Service Service(string ns, string name, string? clusterIp = null, IDictionary<string, string>? labels = null) => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Labels = labels },
        Spec = new V1ServiceSpec
        {
            ClusterIP = clusterIp,
            Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }],
        },
    };

    [Fact]
    public async Task ListWithLimitAndContinue_ReturnsEveryServiceExactlyOnce_FromTheFirstPagesSnapshot()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddSyntheticCluster(emulator.Store, 3, 10, 1);

        var seen = new List<string>();
        string? token = null;
        int pages = 0;
        string? firstRv = null;
        do
        {
            var page = await client.CoreV1.ListServiceForAllNamespacesAsync(limit: 7, continueParameter: token);
            Assert.True(page.Items.Count <= 7);
            firstRv ??= page.Metadata.ResourceVersion;
            Assert.Equal(firstRv, page.Metadata.ResourceVersion);
            seen.AddRange(page.Items.Select(s => $"{s.Metadata.NamespaceProperty}/{s.Metadata.Name}"));
            token = page.Metadata.ContinueProperty;
            if (pages == 0)
            {
                Assert.Equal(23, page.Metadata.RemainingItemCount);
                // Changes after the first page do not leak into later pages: they come from the same snapshot.
                emulator.Store.Delete<V1Service>("ns-2", "svc-9");
                emulator.Store.Apply(Service("ns-2", "svc-99", "10.96.50.50"));
            }
            pages++;
        }
        while (!string.IsNullOrEmpty(token));

        Assert.Equal(5, pages);
        Assert.Equal(30, seen.Count);
        Assert.Equal(30, seen.Distinct().Count());
        Assert.Contains("ns-2/svc-9", seen);
        Assert.DoesNotContain("ns-2/svc-99", seen);
        var expected = Enumerable.Range(0, 3).SelectMany(n => Enumerable.Range(0, 10).Select(s => $"ns-{n}/svc-{s}")).OrderBy(x => x, StringComparer.Ordinal);
        Assert.Equal(expected, seen.OrderBy(x => x, StringComparer.Ordinal));

        var fresh = await client.CoreV1.ListServiceForAllNamespacesAsync();
        Assert.Contains(fresh.Items, s => s.Metadata.Name == "svc-99");
        Assert.DoesNotContain(fresh.Items, s => s.Metadata.Name == "svc-9" && s.Metadata.NamespaceProperty == "ns-2");
    }

    [Fact]
    public async Task ContinueToken_OlderThanTheHistory_Is410Expired()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddSyntheticCluster(emulator.Store, 1, 10, 0);
        var page = await client.CoreV1.ListNamespacedServiceAsync("ns-0", limit: 3);
        emulator.Store.Apply(Service("ns-0", "late"));
        emulator.Store.CompactHistory();
        var e = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ListNamespacedServiceAsync("ns-0", limit: 3, continueParameter: page.Metadata.ContinueProperty));
        Assert.Equal(System.Net.HttpStatusCode.Gone, e.Response.StatusCode);
        Assert.Contains("\"reason\":\"Expired\"", e.Response.Content);
    }

    [Fact]
    public async Task LabelAndFieldSelectors_FilterLists()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddSyntheticCluster(emulator.Store, 2, 10, 1);

        async Task<string[]> Names(string? labels = null, string? fields = null) =>
            (await client.CoreV1.ListServiceForAllNamespacesAsync(labelSelector: labels, fieldSelector: fields)).Items
                .Select(s => $"{s.Metadata.NamespaceProperty}/{s.Metadata.Name}").ToArray();

        Assert.Equal(["ns-0/svc-1", "ns-0/svc-2", "ns-1/svc-1", "ns-1/svc-2"], await Names("app in (svc-1, svc-2)"));
        Assert.Equal(18, (await Names("app!=svc-1,app notin (svc-2)")).Length + 2);
        Assert.Equal(["ns-0/svc-3", "ns-1/svc-3"], await Names("app==svc-3"));
        Assert.Equal(20, (await Names("app")).Length);
        Assert.Empty(await Names("!app"));
        Assert.Equal(10, (await Names(fields: "metadata.namespace=ns-1")).Length);
        Assert.Equal(["ns-1/svc-4"], await Names(fields: "metadata.name=svc-4,metadata.namespace!=ns-0"));
        Assert.Equal(["ns-1/svc-4"], await Names("app=svc-4", "metadata.namespace=ns-1"));

        var slices = await client.DiscoveryV1.ListNamespacedEndpointSliceAsync("ns-0", labelSelector: "kubernetes.io/service-name=svc-9");
        var slice = Assert.Single(slices.Items);
        Assert.Equal("svc-9-0", slice.Metadata.Name);

        var bad = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ListServiceForAllNamespacesAsync(labelSelector: "app in (a"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.Response.StatusCode);
    }

    [Fact]
    public async Task Watch_SeesAddedModifiedDeleted_AfterTheListResourceVersion()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddDemoCluster(emulator.Store);
        var list = await client.CoreV1.ListNamespacedServiceAsync("default");

        using var cts = new CancellationTokenSource(Patience);
        var events = new List<(WatchEventType, string, string?)>();
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, svc) in client.CoreV1.WatchListNamespacedServiceAsync("default", resourceVersion: list.Metadata.ResourceVersion, cancellationToken: cts.Token))
            {
                events.Add((type, svc.Metadata.Name, (svc.Metadata.Labels is { } l && l.TryGetValue("stage", out var st) ? st : null)));
                if (type == WatchEventType.Deleted) break;
            }
        }, cts.Token);

        emulator.Store.Apply(Service("default", "watched", labels: new Dictionary<string, string> { ["stage"] = "one" }));
        emulator.Store.Apply(Service("other", "elsewhere"));
        var svc = emulator.Store.Get<V1Service>("default", "watched")!;
        svc.Metadata.Labels["stage"] = "two";
        emulator.Store.Apply(svc);
        emulator.Store.Delete<V1Service>("default", "watched");
        await watching;

        Assert.Equal(
            [(WatchEventType.Added, "watched", "one"), (WatchEventType.Modified, "watched", "two"), (WatchEventType.Deleted, "watched", "two")],
            events);
    }

    [Fact]
    public async Task Watch_FromResourceVersionZero_StartsWithAddedForEveryObject_AndHonoursLabelSelector()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddDemoCluster(emulator.Store);

        using var cts = new CancellationTokenSource(Patience);
        var names = new List<string>();
        await foreach (var (type, svc) in client.CoreV1.WatchListServiceForAllNamespacesAsync(resourceVersion: "0", labelSelector: "app", cancellationToken: cts.Token))
        {
            Assert.Equal(WatchEventType.Added, type);
            names.Add(svc.Metadata.Name);
            if (names.Count == 4) break;
        }
        Assert.Equal(["dual", "nginx-service", "web", "api"], names);
    }

    [Fact]
    public async Task Watch_WithAllowWatchBookmarks_ReceivesBookmarksAtTheCurrentResourceVersion()
    {
        var (emulator, client) = await StartAsync(new KubeEmulatorOptions { BookmarkInterval = TimeSpan.FromMilliseconds(100) });
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddDemoCluster(emulator.Store);
        var rv = emulator.Store.ResourceVersion;

        using var cts = new CancellationTokenSource(Patience);
        V1Service? bookmark = null;
        await foreach (var (type, svc) in client.CoreV1.WatchListNamespacedServiceAsync("default", resourceVersion: rv.ToString(), allowWatchBookmarks: true, cancellationToken: cts.Token))
        {
            if (type == WatchEventType.Bookmark)
            {
                bookmark = svc;
                break;
            }
        }
        Assert.NotNull(bookmark);
        Assert.Equal(rv.ToString(), bookmark.Metadata.ResourceVersion);
        Assert.Null(bookmark.Spec);
    }

    [Fact]
    public async Task Watch_FromACompactedResourceVersion_GetsAnErrorEventWith410Expired()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddDemoCluster(emulator.Store);
        var oldRv = emulator.Store.ResourceVersion;
        emulator.Store.Apply(Service("default", "after"));
        emulator.Store.CompactHistory();

        // Over raw HTTP: 200, then one ERROR event carrying a Status 410 Expired, then the stream ends.
        using var http = new HttpClient { BaseAddress = emulator.BaseAddress };
        var raw = await http.GetStringAsync($"api/v1/namespaces/default/services?watch=true&resourceVersion={oldRv}");
        var line = Assert.Single(raw.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var evt = KubernetesJson.Deserialize<Watcher<V1Status>.WatchEvent>(line);
        Assert.Equal(WatchEventType.Error, evt.Type);
        Assert.Equal(410, evt.Object.Code);
        Assert.Equal("Expired", evt.Object.Reason);
        Assert.StartsWith($"too old resource version: {oldRv} (", evt.Object.Message);

        // What KubernetesClient surfaces: the ERROR event's Status goes to onError as a KubernetesException, and the
        // enumeration ends without yielding an object.
        using var cts = new CancellationTokenSource(Patience);
        var errors = new List<Exception>();
        var yielded = new List<WatchEventType>();
        await foreach (var (type, _) in client.CoreV1.WatchListNamespacedServiceAsync("default", resourceVersion: oldRv.ToString(), onError: errors.Add, cancellationToken: cts.Token))
        {
            yielded.Add(type);
        }
        Assert.Empty(yielded);
        var thrown = Assert.IsType<KubernetesException>(Assert.Single(errors));
        Assert.Equal(410, thrown.Status.Code);
        Assert.Equal("Expired", thrown.Status.Reason);

        // A watch from the current resourceVersion is still fine.
        var current = emulator.Store.ResourceVersion;
        var ok = await http.GetAsync($"api/v1/namespaces/default/services?watch=true&resourceVersion={current}&timeoutSeconds=1");
        Assert.Equal(System.Net.HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("", await ok.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Restart_CutsOpenWatches_AndAWatchFromTheLastResourceVersionResumesWithoutLoss()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddDemoCluster(emulator.Store);
        var baseAddress = emulator.BaseAddress;
        var startRv = emulator.Store.ResourceVersion.ToString();

        using var cts = new CancellationTokenSource(Patience);
        var seen = new List<string>();
        string lastRv = startRv;
        var firstAdded = new TaskCompletionSource();
        var watching = Task.Run(async () =>
        {
            try
            {
                await foreach (var (type, svc) in client.CoreV1.WatchListNamespacedServiceAsync("default", resourceVersion: startRv, cancellationToken: cts.Token))
                {
                    seen.Add($"{type}:{svc.Metadata.Name}");
                    lastRv = svc.Metadata.ResourceVersion;
                    firstAdded.TrySetResult();
                }
                return "ended";
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                return "cut";
            }
        }, cts.Token);

        emulator.Store.Apply(Service("default", "before-outage"));
        await firstAdded.Task.WaitAsync(cts.Token);
        await emulator.StopAsync();
        var outcome = await watching.WaitAsync(cts.Token);
        Assert.Contains(outcome, new[] { "ended", "cut" });
        Assert.Equal(["Added:before-outage"], seen);

        emulator.Store.Apply(Service("default", "during-outage"));
        emulator.Store.Delete<V1Service>("default", "before-outage");
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.CoreV1.ListNamespacedServiceAsync("default", cancellationToken: cts.Token));

        await emulator.RestartAsync();
        Assert.Equal(baseAddress, emulator.BaseAddress);
        var resumed = new List<string>();
        await foreach (var (type, svc) in client.CoreV1.WatchListNamespacedServiceAsync("default", resourceVersion: lastRv, cancellationToken: cts.Token))
        {
            resumed.Add($"{type}:{svc.Metadata.Name}");
            if (resumed.Count == 2) break;
        }
        Assert.Equal(["Added:during-outage", "Deleted:before-outage"], resumed);
    }

    [Fact]
    public async Task Writes_BumpTheGlobalResourceVersion_AndReportConflictsAsKubeApiserverDoes()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddDemoCluster(emulator.Store);
        var before = emulator.Store.ResourceVersion;

        var created = await client.CoreV1.CreateNamespacedServiceAsync(Service("demo", "made"), "demo");
        Assert.Equal((before + 1).ToString(), created.Metadata.ResourceVersion);
        Assert.StartsWith("10.96.", created.Spec.ClusterIP);
        Assert.Equal([created.Spec.ClusterIP], created.Spec.ClusterIPs);
        Assert.Equal(["IPv4"], created.Spec.IpFamilies);
        Assert.Equal("ClusterIP", created.Spec.Type);
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));
        Assert.NotNull(created.Metadata.CreationTimestamp);

        var dup = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.CreateNamespacedServiceAsync(Service("demo", "made"), "demo"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, dup.Response.StatusCode);
        Assert.Contains("\"reason\":\"AlreadyExists\"", dup.Response.Content);

        created.Metadata.Labels = new Dictionary<string, string> { ["v"] = "2" };
        var updated = await client.CoreV1.ReplaceNamespacedServiceAsync(created, "made", "demo");
        Assert.Equal("2", updated.Metadata.Labels["v"]);
        Assert.Equal(created.Spec.ClusterIP, updated.Spec.ClusterIP);

        created.Metadata.Labels["v"] = "stale";
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReplaceNamespacedServiceAsync(created, "made", "demo"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, stale.Response.StatusCode);
        Assert.Contains("\"reason\":\"Conflict\"", stale.Response.Content);

        var patched = await client.CoreV1.PatchNamespacedServiceAsync(
            new V1Patch("{\"metadata\":{\"labels\":{\"patched\":\"yes\"}}}", V1Patch.PatchType.MergePatch), "made", "demo");
        Assert.Equal("yes", patched.Metadata.Labels["patched"]);
        var jsonPatched = await client.CoreV1.PatchNamespacedServiceAsync(
            new V1Patch("[{\"op\":\"replace\",\"path\":\"/spec/ports/0/port\",\"value\":8080}]", V1Patch.PatchType.JsonPatch), "made", "demo");
        Assert.Equal(8080, jsonPatched.Spec.Ports[0].Port);

        var missing = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReadNamespacedServiceAsync("nope", "demo"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.Response.StatusCode);
        Assert.Contains("services \\\"nope\\\" not found", missing.Response.Content);

        var noNs = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.CreateNamespacedServiceAsync(Service("ghost", "x"), "ghost"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, noNs.Response.StatusCode);

        await client.CoreV1.DeleteNamespacedServiceAsync("made", "demo");
        Assert.Null(emulator.Store.Get<V1Service>("demo", "made"));
    }

    [Fact]
    public async Task SyntheticCluster_HasTheDocumentedCountsNamesAndAddresses()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddSyntheticCluster(emulator.Store, 2, 20, 3);

        Assert.Equal(2, (await client.CoreV1.ListNamespaceAsync()).Items.Count);
        var services = (await client.CoreV1.ListServiceForAllNamespacesAsync()).Items;
        Assert.Equal(40, services.Count);
        Assert.Equal(120, (await client.CoreV1.ListPodForAllNamespacesAsync()).Items.Count);
        var slices = (await client.DiscoveryV1.ListEndpointSliceForAllNamespacesAsync()).Items;
        Assert.Equal(40, slices.Count);

        var headless = services.Where(s => s.Spec.ClusterIP == "None").Select(s => $"{s.Metadata.NamespaceProperty}/{s.Metadata.Name}").OrderBy(x => x);
        Assert.Equal(["ns-0/svc-19", "ns-0/svc-9", "ns-1/svc-19", "ns-1/svc-9"], headless);
        var ips = services.Where(s => s.Spec.ClusterIP != "None").Select(s => s.Spec.ClusterIP).ToList();
        Assert.Equal(ips.Count, ips.Distinct().Count());

        var svc = await client.CoreV1.ReadNamespacedServiceAsync("svc-5", "ns-1");
        Assert.Equal(ClusterFixtures.SyntheticServiceIp(25), svc.Spec.ClusterIP);
        Assert.Equal("10.100.0.26", svc.Spec.ClusterIP);
        var port = Assert.Single(svc.Spec.Ports);
        Assert.Equal(("http", 80, "TCP"), (port.Name, port.Port, port.Protocol));

        var slice = await client.DiscoveryV1.ReadNamespacedEndpointSliceAsync("svc-5-0", "ns-1");
        Assert.Equal("svc-5", slice.Metadata.Labels["kubernetes.io/service-name"]);
        Assert.Equal(["pod-svc-5-0", "pod-svc-5-1", "pod-svc-5-2"], slice.Endpoints.Select(e => e.TargetRef.Name));
        Assert.All(slice.Endpoints, e => Assert.True(e.Conditions.Ready));
        Assert.Equal(Enumerable.Range(75, 3).Select(ClusterFixtures.SyntheticPodIp), slice.Endpoints.Select(e => e.Addresses.Single()));
        Assert.Equal("10.244.0.76", slice.Endpoints[0].Addresses[0]);
        var pod = await client.CoreV1.ReadNamespacedPodAsync("pod-svc-5-1", "ns-1");
        Assert.Equal(ClusterFixtures.SyntheticPodIp(76), pod.Status.PodIP);
        Assert.Equal("Running", pod.Status.Phase);
    }

    [Fact]
    public async Task DemoCluster_ServesTheDocumentedObjects()
    {
        var (emulator, client) = await StartAsync();
        await using var _ = emulator;
        using var __ = client;
        ClusterFixtures.AddDemoCluster(emulator.Store);

        Assert.Equal(["default", "demo", "kube-system"], (await client.CoreV1.ListNamespaceAsync()).Items.Select(n => n.Metadata.Name));
        var dns = await client.CoreV1.ReadNamespacedServiceAsync("kube-dns", "kube-system");
        Assert.Equal("10.96.0.10", dns.Spec.ClusterIP);
        Assert.Equal(["dns:53/UDP", "dns-tcp:53/TCP", "metrics:9153/TCP"], dns.Spec.Ports.Select(p => $"{p.Name}:{p.Port}/{p.Protocol}"));

        var nginx = await client.CoreV1.ReadNamespacedServiceAsync("nginx-service", "default");
        Assert.Equal("10.96.100.10", nginx.Spec.ClusterIP);
        var nginxSlice = Assert.Single((await client.DiscoveryV1.ListNamespacedEndpointSliceAsync("default", labelSelector: "kubernetes.io/service-name=nginx-service")).Items);
        Assert.Equal(2, nginxSlice.Endpoints.Count(e => e.Conditions.Ready == true));

        var web = await client.CoreV1.ReadNamespacedServiceAsync("web", "default");
        Assert.Equal("None", web.Spec.ClusterIP);
        var webSlice = Assert.Single((await client.DiscoveryV1.ListNamespacedEndpointSliceAsync("default", labelSelector: "kubernetes.io/service-name=web")).Items);
        Assert.Equal(["web-0", "web-1"], webSlice.Endpoints.Select(e => e.Hostname));
        Assert.Equal("http", webSlice.Ports.Single().Name);

        var external = await client.CoreV1.ReadNamespacedServiceAsync("search-engine", "default");
        Assert.Equal(("ExternalName", "www.example.com", null), (external.Spec.Type, external.Spec.ExternalName, external.Spec.ClusterIP));

        var dual = await client.CoreV1.ReadNamespacedServiceAsync("dual", "default");
        Assert.Equal(["10.96.100.20", "fd00:10:96::20"], dual.Spec.ClusterIPs);
        Assert.Equal(["IPv4", "IPv6"], dual.Spec.IpFamilies);
        var dualSlices = (await client.DiscoveryV1.ListNamespacedEndpointSliceAsync("default", labelSelector: "kubernetes.io/service-name=dual")).Items;
        Assert.Equal(["IPv4", "IPv6"], dualSlices.Select(s => s.AddressType).OrderBy(x => x));

        var pods = (await client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: "status.phase=Running")).Items;
        Assert.Contains(pods, p => p.Metadata.NamespaceProperty == "demo" && p.Status.PodIP == "10.244.2.10");
        Assert.Contains(pods, p => p.Metadata.Name == "dual-0" && p.Status.PodIPs.Select(i => i.Ip).SequenceEqual(["10.244.1.30", "fd00:10:244:1::30"]));
    }

    [Fact]
    public async Task LoadManifests_AcceptsMultiDocumentYamlAndJsonLists()
    {
        var store = new ClusterStore();
        int n = ClusterFixtures.LoadManifests(store, """
            apiVersion: v1
            kind: Namespace
            metadata: {name: a}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: cfg, namespace: a}
            data: {key: "1"}
            """);
        Assert.Equal(2, n);
        n = ClusterFixtures.LoadManifests(store, """
            {"apiVersion":"v1","kind":"List","items":[
              {"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"a"},"spec":{"clusterIP":"10.96.9.9","ports":[{"port":53,"protocol":"UDP"}]}}
            ]}
            """);
        Assert.Equal(1, n);
        var svc = store.Get<V1Service>("a", "s")!;
        Assert.Equal("10.96.9.9", svc.Spec.ClusterIP);
        Assert.Equal("1", store.Get<V1ConfigMap>("a", "cfg")!.Data["key"]);
        await Task.CompletedTask;
    }
}
