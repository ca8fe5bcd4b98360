using System.Text.Json.Nodes;
using ClusterDns.KubeEmulator;

namespace ClusterDns.Tests.KubeEmulator;

/// <summary>The synthetic cluster writes its pods and slices in their stored form, past the JSON tree: what a
/// client reads must be byte for byte what the ordinary write path stores for the same objects.</summary>
public sealed class SyntheticClusterTests
{
    [Fact]
    public void SyntheticPodsAndSlices_AreStoredAsTheWritePathStoresTheirManifests()
    {
        var fast = new ClusterStore();
        ClusterFixtures.AddSyntheticCluster(fast, 2, 10, 3);
        var reference = new ClusterStore();
        for (int n = 0; n < 2; n++)
        {
            var ns = $"ns-{n}";
            for (int s = 0; s < 10; s++)
            {
                int i = n * 10 + s;
                var svc = $"svc-{s}";
                var endpoints = new JsonArray();
                for (int k = 0; k < 3; k++)
                {
                    int j = i * 3 + k;
                    var pod = $"pod-{svc}-{k}";
                    var ip = ClusterFixtures.SyntheticPodIp(j);
                    var node = $"node-{j % 10}";
                    reference.Upsert("pods", new JsonObject
                    {
                        ["apiVersion"] = "v1",
                        ["kind"] = "Pod",
                        ["metadata"] = new JsonObject { ["name"] = pod, ["namespace"] = ns, ["labels"] = new JsonObject { ["app"] = svc } },
                        ["spec"] = new JsonObject
                        {
                            ["nodeName"] = node,
                            ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = "registry.example/app:1" }),
                        },
                        ["status"] = new JsonObject { ["phase"] = "Running", ["podIP"] = ip, ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip }) },
                    }.ToJsonString());
                    endpoints.Add(new JsonObject
                    {
                        ["addresses"] = new JsonArray(ip),
                        ["conditions"] = new JsonObject { ["ready"] = true, ["serving"] = true, ["terminating"] = false },
                        ["nodeName"] = node,
                        ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["namespace"] = ns, ["name"] = pod },
                    });
                }
                var labels = new JsonObject
                {
                    ["kubernetes.io/service-name"] = svc,
                    ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io",
                };
                if (ClusterFixtures.IsSyntheticHeadless(s)) labels["service.kubernetes.io/headless"] = "";
                reference.Upsert("endpointslices", new JsonObject
                {
                    ["apiVersion"] = "discovery.k8s.io/v1",
                    ["kind"] = "EndpointSlice",
                    ["metadata"] = new JsonObject { ["name"] = $"{svc}-0", ["namespace"] = ns, ["labels"] = labels },
                    ["addressType"] = "IPv4",
                    ["endpoints"] = endpoints,
                    ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 80, ["protocol"] = "TCP" }),
                }.ToJsonString());
            }
        }

        foreach (var resource in new[] { "pods", "endpointslices" })
        {
            var expected = reference.List(resource).Select(Unstamped).ToList();
            var actual = fast.List(resource).Select(Unstamped).ToList();
            Assert.Equal(resource == "pods" ? 60 : 20, actual.Count);
            Assert.Equal(expected, actual);
        }
        var uids = fast.List("pods").Concat(fast.List("endpointslices")).Select(j => (string?)JsonNode.Parse(j)!["metadata"]!["uid"]).ToList();
        Assert.Equal(uids.Count, uids.Distinct().Count());
    }

    [Fact]
    public void SyntheticClusterLoadedTwice_LeavesItsPodsAndSlicesAsTheyWere()
    {
        var store = new ClusterStore();
        ClusterFixtures.AddSyntheticCluster(store, 1, 2, 2);
        var pods = store.List("pods");
        var slices = store.List("endpointslices");
        ClusterFixtures.AddSyntheticCluster(store, 1, 2, 2);
        // A write that changes nothing is skipped: same uid, same resourceVersion, no event.
        Assert.Equal(pods, store.List("pods"));
        Assert.Equal(slices, store.List("endpointslices"));
        Assert.Equal(4, pods.Count);
        Assert.Equal(2, slices.Count);
    }

    /// <summary>The object with the fields only the store sets (uid, creation time, resourceVersion) blanked.</summary>
    private static string Unstamped(string json)
    {
        var node = JsonNode.Parse(json)!;
        var meta = node["metadata"]!.AsObject();
        // A random (version 4) UUID, as kube-apiserver's.
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", (string?)meta["uid"]);
        Assert.False(string.IsNullOrEmpty((string?)meta["creationTimestamp"]));
        Assert.False(string.IsNullOrEmpty((string?)meta["resourceVersion"]));
        meta["uid"] = "";
        meta["creationTimestamp"] = "";
        meta["resourceVersion"] = "";
        return node.ToJsonString();
    }
}
