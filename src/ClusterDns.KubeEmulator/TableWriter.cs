using System.Globalization;
using System.Text.Json.Nodes;

namespace ClusterDns.KubeEmulator;

/// <summary>Server-side printing (meta.k8s.io/v1 Table), which kubectl get asks for: the columns kube-apiserver prints.</summary>
internal static class TableWriter
{
    public static JsonObject Table(ResourceType t, IReadOnlyList<StoredObject> items, long resourceVersion, string? continueToken, string includeObject)
    {
        var columns = Columns(t);
        var defs = new JsonArray();
        foreach (var (name, type, priority) in columns)
        {
            defs.Add(new JsonObject
            {
                ["name"] = name,
                ["type"] = type,
                ["format"] = name == "Name" ? "name" : "",
                ["description"] = name,
                ["priority"] = priority,
            });
        }
        var rows = new JsonArray();
        foreach (var item in items)
        {
            var obj = item.ToNode();
            var row = new JsonObject { ["cells"] = new JsonArray(Cells(t, obj).ToArray()) };
            if (includeObject == "Object")
            {
                row["object"] = obj;
            }
            else if (includeObject != "None")
            {
                row["object"] = new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata",
                    ["apiVersion"] = "meta.k8s.io/v1",
                    ["metadata"] = obj["metadata"]!.DeepClone(),
                };
            }
            rows.Add(row);
        }
        var meta = new JsonObject { ["resourceVersion"] = resourceVersion.ToString(CultureInfo.InvariantCulture) };
        if (continueToken is not null) meta["continue"] = continueToken;
        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = meta,
            ["columnDefinitions"] = defs,
            ["rows"] = rows,
        };
    }

    private static (string Name, string Type, int Priority)[] Columns(ResourceType t) => t.Plural switch
    {
        "services" => [("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0), ("Port(s)", "string", 0), ("Age", "string", 0), ("Selector", "string", 1)],
        "pods" => [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1)],
        "namespaces" => [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
        "endpointslices" => [("Name", "string", 0), ("AddressType", "string", 0), ("Ports", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0)],
        "endpoints" => [("Name", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0)],
        "configmaps" => [("Name", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)],
        _ => [("Name", "string", 0), ("Age", "string", 0)],
    };

    private static IEnumerable<JsonNode?> Cells(ResourceType t, JsonObject o)
    {
        var name = (string?)o["metadata"]?["name"];
        var age = Age((string?)o["metadata"]?["creationTimestamp"]);
        var spec = o["spec"] as JsonObject;
        switch (t.Plural)
        {
            case "services":
                {
                    var type = (string?)spec?["type"] ?? "ClusterIP";
                    var clusterIp = type == "ExternalName" ? "<none>" : string.Join(",", (spec?["clusterIPs"] as JsonArray)?.Select(x => (string?)x) ?? []);
                    var external = type == "ExternalName" ? (string?)spec?["externalName"] ?? "<none>" : "<none>";
                    var ports = (spec?["ports"] as JsonArray)?.OfType<JsonObject>()
                        .Select(p => $"{p["port"]}/{(string?)p["protocol"] ?? "TCP"}") ?? [];
                    var portText = string.Join(",", ports);
                    var selector = spec?["selector"] is JsonObject sel && sel.Count > 0 ? string.Join(",", sel.Select(kv => $"{kv.Key}={kv.Value}")) : "<none>";
                    return [name, type, clusterIp.Length == 0 ? "<none>" : clusterIp, external, portText.Length == 0 ? "<none>" : portText, age, selector];
                }
            case "pods":
                {
                    int containers = (spec?["containers"] as JsonArray)?.Count ?? 0;
                    var statuses = o["status"]?["containerStatuses"] as JsonArray;
                    int ready = statuses?.Count(s => (bool?)s?["ready"] == true) ?? ((string?)o["status"]?["phase"] == "Running" ? containers : 0);
                    return [name, $"{ready}/{containers}", (string?)o["status"]?["phase"] ?? "Unknown", "0", age,
                        (string?)o["status"]?["podIP"] ?? "<none>", (string?)spec?["nodeName"] ?? "<none>"];
                }
            case "namespaces":
                return [name, (string?)o["status"]?["phase"] ?? "Active", age];
            case "endpointslices":
                {
                    var ports = (o["ports"] as JsonArray)?.OfType<JsonObject>().Select(p => p["port"]?.ToString() ?? "<unset>") ?? [];
                    var addresses = (o["endpoints"] as JsonArray)?.OfType<JsonObject>().SelectMany(e => (e["addresses"] as JsonArray)?.Select(a => (string?)a) ?? []).ToList() ?? [];
                    var shown = addresses.Count == 0 ? "<unset>" : string.Join(",", addresses.Take(3)) + (addresses.Count > 3 ? $" + {addresses.Count - 3} more..." : "");
                    var portText = string.Join(",", ports);
                    return [name, (string?)o["addressType"], portText.Length == 0 ? "<unset>" : portText, shown, age];
                }
            case "endpoints":
                {
                    var list = (o["subsets"] as JsonArray)?.OfType<JsonObject>().SelectMany(s =>
                        ((s["addresses"] as JsonArray)?.Select(a => (string?)a?["ip"]) ?? []).SelectMany(ip =>
                            ((s["ports"] as JsonArray)?.Select(p => $"{ip}:{p?["port"]}") ?? [ip]))).ToList() ?? [];
                    return [name, list.Count == 0 ? "<none>" : string.Join(",", list), age];
                }
            case "configmaps":
                return [name, (o["data"] as JsonObject)?.Count ?? 0, age];
            default:
                return [name, age];
        }
    }

    private static string Age(string? timestamp)
    {
        if (timestamp is null || !DateTime.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var created))
        {
            return "<unknown>";
        }
        var d = DateTime.UtcNow - created;
        if (d < TimeSpan.FromSeconds(120)) return $"{Math.Max(0, (int)d.TotalSeconds)}s";
        if (d < TimeSpan.FromMinutes(10)) return $"{(int)d.TotalMinutes}m{d.Seconds}s";
        if (d < TimeSpan.FromHours(3)) return $"{(int)d.TotalMinutes}m";
        if (d < TimeSpan.FromHours(8)) return $"{(int)d.TotalHours}h{d.Minutes}m";
        if (d < TimeSpan.FromDays(2)) return $"{(int)d.TotalHours}h";
        return $"{(int)d.TotalDays}d";
    }
}
