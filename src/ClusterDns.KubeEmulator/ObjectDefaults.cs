using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;

namespace ClusterDns.KubeEmulator;

/// <summary>The defaulting kube-apiserver does on write, for the fields cluster DNS reads.</summary>
internal static class ObjectDefaults
{
    public static void Apply(ResourceType t, JsonObject obj, JsonObject? old, ClusterStore store)
    {
        if (t == ResourceCatalog.Services) Service(obj, old, store);
        else if (t == ResourceCatalog.Namespaces) Namespace(obj);
        else if (t == ResourceCatalog.Pods) Pod(obj);
    }

    private static void Namespace(JsonObject obj)
    {
        var meta = ClusterStore.Metadata(obj);
        if (meta["labels"] is not JsonObject labels)
        {
            labels = new JsonObject();
            meta["labels"] = labels;
        }
        labels["kubernetes.io/metadata.name"] = (string?)meta["name"];
        obj["spec"] ??= new JsonObject { ["finalizers"] = new JsonArray("kubernetes") };
        obj["status"] ??= new JsonObject { ["phase"] = "Active" };
    }

    private static void Pod(JsonObject obj)
    {
        obj["spec"] ??= new JsonObject();
        var spec = obj["spec"]!.AsObject();
        spec["restartPolicy"] ??= "Always";
        spec["dnsPolicy"] ??= "ClusterFirst";
        obj["status"] ??= new JsonObject { ["phase"] = "Pending" };
        // podIPs mirrors podIP when only the singular field is given, as the kubelet reports both.
        var status = obj["status"]!.AsObject();
        if (status["podIP"] is JsonValue ip && status["podIPs"] is null)
        {
            status["podIPs"] = new JsonArray(new JsonObject { ["ip"] = (string?)ip });
        }
    }

    private static void Service(JsonObject obj, JsonObject? old, ClusterStore store)
    {
        var name = (string?)obj["metadata"]?["name"] ?? "";
        obj["spec"] ??= new JsonObject();
        var spec = obj["spec"]!.AsObject();
        var type = (string?)spec["type"] ?? "ClusterIP";
        spec["type"] = type;
        if (spec["ports"] is JsonArray ports)
        {
            foreach (var p in ports.OfType<JsonObject>())
            {
                p["protocol"] ??= "TCP";
                if (p["targetPort"] is null && p["port"] is not null) p["targetPort"] = p["port"]!.DeepClone();
            }
        }
        if (type == "ExternalName")
        {
            if (string.IsNullOrEmpty((string?)spec["externalName"]))
            {
                throw KubeApiException.Invalid(ResourceCatalog.Services, name, "spec.externalName: Required value");
            }
            spec.Remove("clusterIP");
            spec.Remove("clusterIPs");
            spec.Remove("ipFamilies");
            spec.Remove("ipFamilyPolicy");
            spec["sessionAffinity"] ??= "None";
            obj["status"] ??= new JsonObject { ["loadBalancer"] = new JsonObject() };
            return;
        }

        var oldSpec = old?["spec"] as JsonObject;
        var clusterIp = (string?)spec["clusterIP"];
        var clusterIps = spec["clusterIPs"] as JsonArray;
        if (string.IsNullOrEmpty(clusterIp) && clusterIps is { Count: > 0 })
        {
            clusterIp = (string?)clusterIps[0];
        }
        if (string.IsNullOrEmpty(clusterIp) && oldSpec is not null && (string?)oldSpec["type"] != "ExternalName")
        {
            // An update that leaves clusterIP out keeps the allocated one (clusterIP is immutable).
            clusterIp = (string?)oldSpec["clusterIP"];
            clusterIps ??= oldSpec["clusterIPs"]?.DeepClone() as JsonArray;
        }
        var oldIp = (string?)oldSpec?["clusterIP"];
        if (oldSpec is not null && !string.IsNullOrEmpty(oldIp) && !string.IsNullOrEmpty(clusterIp) && clusterIp != oldIp
            && (string?)oldSpec["type"] != "ExternalName")
        {
            throw KubeApiException.Invalid(ResourceCatalog.Services, name, $"spec.clusterIPs[0]: Invalid value: []string{{\"{clusterIp}\"}}: may not change once set");
        }
        if (string.IsNullOrEmpty(clusterIp))
        {
            clusterIp = store.AllocateClusterIp();
        }
        else if (clusterIp != "None" && !IPAddress.TryParse(clusterIp, out _))
        {
            throw KubeApiException.Invalid(ResourceCatalog.Services, name, $"spec.clusterIPs[0]: Invalid value: \"{clusterIp}\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
        }
        else if (clusterIp != "None" && clusterIp != oldIp && store.ClusterIpInUse(clusterIp))
        {
            throw KubeApiException.Invalid(ResourceCatalog.Services, name, $"spec.clusterIPs: Invalid value: []string{{\"{clusterIp}\"}}: failed to allocate IP {clusterIp}: provided IP is already allocated");
        }
        spec["clusterIP"] = clusterIp;
        if (clusterIps is null || clusterIps.Count == 0)
        {
            clusterIps = new JsonArray(clusterIp);
        }
        if (!ReferenceEquals(spec["clusterIPs"], clusterIps)) spec["clusterIPs"] = clusterIps;
        if (spec["ipFamilies"] is not JsonArray { Count: > 0 })
        {
            var families = new JsonArray();
            foreach (var ip in clusterIps)
            {
                var s = (string?)ip;
                families.Add(s is not null && IPAddress.TryParse(s, out var a) && a.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4");
            }
            spec["ipFamilies"] = families;
        }
        spec["ipFamilyPolicy"] ??= clusterIps.Count > 1 ? "RequireDualStack" : "SingleStack";
        spec["sessionAffinity"] ??= "None";
        spec["internalTrafficPolicy"] ??= "Cluster";
        if (type is "NodePort" or "LoadBalancer") spec["externalTrafficPolicy"] ??= "Cluster";
        obj["status"] ??= new JsonObject { ["loadBalancer"] = new JsonObject() };
    }
}
