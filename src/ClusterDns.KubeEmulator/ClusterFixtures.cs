using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace ClusterDns.KubeEmulator;

/// <summary>Ready-made cluster contents: manifests, a synthetic cluster of any size, and the demo cluster.</summary>
public static class ClusterFixtures
{
    /// <summary>Endpoints per EndpointSlice, as the EndpointSlice controller's default --max-endpoints-per-slice.</summary>
    public const int MaxEndpointsPerSlice = 100;

    /// <summary>Loads multi-document YAML (or JSON, or a JSON/YAML List) into the store, creating or replacing each
    /// object. Returns how many objects were loaded.</summary>
    public static int LoadManifests(ClusterStore store, string yamlOrJsonText)
    {
        ArgumentNullException.ThrowIfNull(store);
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(yamlOrJsonText));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new FormatException($"manifest does not parse at line {e.Start.Line}: {e.Message}", e);
        }
        int count = 0;
        foreach (var doc in yaml.Documents)
        {
            if (Patcher.FromYamlNode(doc.RootNode) is not JsonObject obj) continue;
            count += LoadObject(store, obj);
        }
        return count;
    }

    /// <summary>Loads a manifest file (see <see cref="LoadManifests"/>).</summary>
    public static int LoadManifestFile(ClusterStore store, string path) => LoadManifests(store, File.ReadAllText(path));

    private static int LoadObject(ClusterStore store, JsonObject obj)
    {
        var kind = (string?)obj["kind"];
        if (kind is not null && kind.EndsWith("List", StringComparison.Ordinal) && obj["items"] is JsonArray items)
        {
            int n = 0;
            foreach (var item in items.OfType<JsonObject>().ToList())
            {
                n += LoadObject(store, item.DeepClone().AsObject());
            }
            return n;
        }
        var t = ResourceCatalog.ForKind((string?)obj["apiVersion"], kind);
        store.Upsert(t, obj);
        return 1;
    }

    /// <summary>The demo cluster (Fixtures/demo-cluster.yaml): namespaces default, kube-system and demo; Services kubernetes,
    /// kube-dns (10.96.0.10), nginx-service (10.96.100.10), headless web with web-0/web-1, ExternalName search-engine,
    /// dual-stack dual, demo/api; their pods and EndpointSlices.</summary>
    public static int AddDemoCluster(ClusterStore store) => LoadManifests(store, DemoManifest);

    /// <summary>The YAML text of the demo cluster.</summary>
    public static string DemoManifest
    {
        get
        {
            using var stream = typeof(ClusterFixtures).Assembly.GetManifestResourceStream("ClusterDns.KubeEmulator.demo-cluster.yaml")
                ?? throw new InvalidOperationException("the demo manifest is not embedded");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
    }

    /// <summary>
    /// A synthetic cluster. Namespaces ns-0..ns-(N-1); in each, Services svc-0..svc-(S-1); for each Service, pods
    /// pod-svc-s-0..pod-svc-s-(P-1) and EndpointSlices svc-s-0, svc-s-1, ... of at most 100 ready endpoints each.
    /// Service number i = n*S + s has ClusterIP <see cref="SyntheticServiceIp"/>(i) unless s % 10 == 9 (headless, clusterIP None);
    /// pod number j = i*P + k has IP <see cref="SyntheticPodIp"/>(j).
    /// </summary>
    public static void AddSyntheticCluster(ClusterStore store, int namespaces, int servicesPerNamespace, int podsPerService)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfNegative(namespaces);
        ArgumentOutOfRangeException.ThrowIfNegative(servicesPerNamespace);
        ArgumentOutOfRangeException.ThrowIfNegative(podsPerService);
        if ((long)namespaces * servicesPerNamespace >= 65534 || (long)namespaces * servicesPerNamespace * podsPerService >= (1 << 18) - 1)
        {
            throw new ArgumentOutOfRangeException(nameof(namespaces), "at most 65533 services and 262142 pods fit the synthetic address plan");
        }
        for (int n = 0; n < namespaces; n++)
        {
            var ns = $"ns-{n}";
            store.Upsert(ResourceCatalog.Namespaces, new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Namespace",
                ["metadata"] = new JsonObject { ["name"] = ns },
            });
            for (int s = 0; s < servicesPerNamespace; s++)
            {
                int i = n * servicesPerNamespace + s;
                var svc = $"svc-{s}";
                bool headless = IsSyntheticHeadless(s);
                store.Upsert(ResourceCatalog.Services, new JsonObject
                {
                    ["apiVersion"] = "v1",
                    ["kind"] = "Service",
                    ["metadata"] = new JsonObject { ["name"] = svc, ["namespace"] = ns, ["labels"] = new JsonObject { ["app"] = svc } },
                    ["spec"] = new JsonObject
                    {
                        ["clusterIP"] = headless ? "None" : SyntheticServiceIp(i),
                        ["selector"] = new JsonObject { ["app"] = svc },
                        ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 80, ["protocol"] = "TCP", ["targetPort"] = 80 }),
                    },
                });
                // Pods and slices are written in their stored form (see ClusterStore.CreateWritten): they are
                // nearly all of a large synthetic cluster. SyntheticClusterTests holds them to the write path's output.
                var podLabels = new Dictionary<string, string>(1, StringComparer.Ordinal) { ["app"] = svc };
                var endpoints = new List<(string Pod, string Ip, string Node)>(Math.Min(podsPerService, MaxEndpointsPerSlice));
                int slice = 0;
                for (int k = 0; k < podsPerService; k++)
                {
                    int j = i * podsPerService + k;
                    var pod = $"pod-{svc}-{k}";
                    var ip = SyntheticPodIp(j);
                    var node = $"node-{j % 10}";
                    store.CreateWritten(ResourceCatalog.Pods, ns, pod, podLabels, (w, stamp) => WritePod(w, stamp, ns, svc, pod, ip, node));
                    endpoints.Add((pod, ip, node));
                    if (endpoints.Count == MaxEndpointsPerSlice || k == podsPerService - 1)
                    {
                        AddSlice(store, ns, svc, slice++, headless, endpoints);
                        endpoints = new List<(string Pod, string Ip, string Node)>(Math.Min(podsPerService, MaxEndpointsPerSlice));
                    }
                }
                if (podsPerService == 0)
                {
                    AddSlice(store, ns, svc, 0, headless, endpoints);
                }
            }
        }
    }

    private static void WritePod(Utf8JsonWriter w, ClusterStore.ObjectStamp? stamp, string ns, string svc, string pod, string ip, string node)
    {
        w.WriteStartObject();
        w.WriteString("kind", "Pod");
        w.WriteString("apiVersion", "v1");
        w.WriteStartObject("metadata");
        w.WriteString("name", pod);
        w.WriteString("namespace", ns);
        w.WriteStartObject("labels");
        w.WriteString("app", svc);
        w.WriteEndObject();
        WriteStamp(w, stamp, hasSpec: true);
        w.WriteEndObject();
        w.WriteStartObject("spec");
        w.WriteString("nodeName", node);
        w.WriteStartArray("containers");
        w.WriteStartObject();
        w.WriteString("name", "app");
        w.WriteString("image", "registry.example/app:1");
        w.WriteEndObject();
        w.WriteEndArray();
        // The defaults the write path adds to a pod (ObjectDefaults).
        w.WriteString("restartPolicy", "Always");
        w.WriteString("dnsPolicy", "ClusterFirst");
        w.WriteEndObject();
        w.WriteStartObject("status");
        w.WriteString("phase", "Running");
        w.WriteString("podIP", ip);
        w.WriteStartArray("podIPs");
        w.WriteStartObject();
        w.WriteString("ip", ip);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteStamp(Utf8JsonWriter w, ClusterStore.ObjectStamp? stamp, bool hasSpec)
    {
        if (stamp is null) return;
        w.WriteString("uid", stamp.Uid);
        w.WriteString("creationTimestamp", stamp.CreationTimestamp);
        if (hasSpec) w.WriteNumber("generation", 1);
        w.WriteString("resourceVersion", stamp.ResourceVersion);
    }

    private static void AddSlice(ClusterStore store, string ns, string svc, int index, bool headless, List<(string Pod, string Ip, string Node)> endpoints)
    {
        var labels = new Dictionary<string, string>(3, StringComparer.Ordinal)
        {
            ["kubernetes.io/service-name"] = svc,
            ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io",
        };
        if (headless) labels["service.kubernetes.io/headless"] = "";
        var name = $"{svc}-{index}";
        store.CreateWritten(ResourceCatalog.EndpointSlices, ns, name, labels, (w, stamp) =>
        {
            w.WriteStartObject();
            w.WriteString("kind", "EndpointSlice");
            w.WriteString("apiVersion", "discovery.k8s.io/v1");
            w.WriteStartObject("metadata");
            w.WriteString("name", name);
            w.WriteString("namespace", ns);
            w.WriteStartObject("labels");
            w.WriteString("kubernetes.io/service-name", svc);
            w.WriteString("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io");
            if (headless) w.WriteString("service.kubernetes.io/headless", "");
            w.WriteEndObject();
            WriteStamp(w, stamp, hasSpec: false);
            w.WriteEndObject();
            w.WriteString("addressType", "IPv4");
            w.WriteStartArray("endpoints");
            foreach (var (pod, ip, node) in endpoints)
            {
                w.WriteStartObject();
                w.WriteStartArray("addresses");
                w.WriteStringValue(ip);
                w.WriteEndArray();
                w.WriteStartObject("conditions");
                w.WriteBoolean("ready", true);
                w.WriteBoolean("serving", true);
                w.WriteBoolean("terminating", false);
                w.WriteEndObject();
                w.WriteString("nodeName", node);
                w.WriteStartObject("targetRef");
                w.WriteString("kind", "Pod");
                w.WriteString("namespace", ns);
                w.WriteString("name", pod);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("ports");
            w.WriteStartObject();
            w.WriteString("name", "http");
            w.WriteNumber("port", 80);
            w.WriteString("protocol", "TCP");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    /// <summary>Whether synthetic Service svc-<paramref name="serviceInNamespace"/> is headless (every 10th: svc-9, svc-19, ...).</summary>
    public static bool IsSyntheticHeadless(int serviceInNamespace) => serviceInNamespace % 10 == 9;

    /// <summary>ClusterIP of synthetic Service number i (counted across namespaces): 10.100.0.0 + i + 1.</summary>
    public static string SyntheticServiceIp(int i) => Ipv4(0x0A640000u + (uint)i + 1);

    /// <summary>IP of synthetic pod number j (counted across all Services): 10.244.0.0 + j + 1.</summary>
    public static string SyntheticPodIp(int j) => Ipv4(0x0AF40000u + (uint)j + 1);

    private static string Ipv4(uint v) => $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}";
}
