using System.Text.Json.Nodes;

namespace ClusterDns.KubeEmulator;

/// <summary>
/// A minimal OpenAPI v3 discovery: per group-version, each resource's operations with the
/// x-kubernetes-group-version-kind extension and the fieldValidation query parameter. kubectl reads it to learn
/// that the server validates fields itself (so it does not need the full v2 schema to validate client-side).
/// No component schemas are served, so kubectl apply computes strategic merge patches from its compiled-in types.
/// </summary>
internal static class OpenApi
{
    public static JsonObject Root()
    {
        var paths = new JsonObject();
        foreach (var gv in ResourceCatalog.All.Select(GroupVersionPath).Distinct())
        {
            paths[gv] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{gv}?hash=CLUSTERDNSEMULATOR1" };
        }
        return new JsonObject { ["paths"] = paths };
    }

    private static string GroupVersionPath(ResourceType t) => t.Group.Length == 0 ? $"api/{t.Version}" : $"apis/{t.Group}/{t.Version}";

    public static JsonObject? GroupVersion(string gvPath)
    {
        var types = ResourceCatalog.All.Where(t => GroupVersionPath(t) == gvPath).ToList();
        if (types.Count == 0) return null;
        var paths = new JsonObject();
        foreach (var t in types)
        {
            var gvk = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind };
            var prefix = "/" + gvPath + (t.Namespaced ? "/namespaces/{namespace}/" : "/") + t.Plural;
            paths[prefix] = new JsonObject
            {
                ["get"] = Operation("list", t, gvk, false),
                ["post"] = Operation("create", t, gvk, true),
            };
            paths[prefix + "/{name}"] = new JsonObject
            {
                ["get"] = Operation("read", t, gvk, false),
                ["put"] = Operation("replace", t, gvk, true),
                ["patch"] = Operation("patch", t, gvk, true),
                ["delete"] = Operation("delete", t, gvk, false),
            };
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = "v1.32.0" },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = new JsonObject() },
        };
    }

    private static JsonObject Operation(string verb, ResourceType t, JsonObject gvk, bool write)
    {
        var parameters = new JsonArray();
        if (write)
        {
            parameters.Add(new JsonObject { ["name"] = "fieldValidation", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } });
            parameters.Add(new JsonObject { ["name"] = "fieldManager", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } });
            parameters.Add(new JsonObject { ["name"] = "dryRun", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true } });
        }
        return new JsonObject
        {
            ["operationId"] = verb + t.Kind,
            ["parameters"] = parameters,
            ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
            ["x-kubernetes-action"] = verb,
            ["x-kubernetes-group-version-kind"] = gvk.DeepClone(),
        };
    }
}
