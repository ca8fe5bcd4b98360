namespace ClusterDns.KubeEmulator;

/// <summary>One REST resource the emulator serves (group/version/plural), with what discovery says about it.</summary>
public sealed record ResourceType(
    string Group,
    string Version,
    string Plural,
    string Singular,
    string Kind,
    bool Namespaced,
    string[] ShortNames,
    bool HasStatusSubresource)
{
    public string ApiVersion => Group.Length == 0 ? Version : Group + "/" + Version;
    public string ListKind => Kind + "List";
}

/// <summary>The fixed set of resources the emulator knows.</summary>
public static class ResourceCatalog
{
    public static readonly ResourceType Namespaces = new("", "v1", "namespaces", "namespace", "Namespace", false, ["ns"], true);
    public static readonly ResourceType Services = new("", "v1", "services", "service", "Service", true, ["svc"], true);
    public static readonly ResourceType Pods = new("", "v1", "pods", "pod", "Pod", true, ["po"], true);
    public static readonly ResourceType Endpoints = new("", "v1", "endpoints", "endpoints", "Endpoints", true, ["ep"], false);
    public static readonly ResourceType ConfigMaps = new("", "v1", "configmaps", "configmap", "ConfigMap", true, ["cm"], false);
    public static readonly ResourceType EndpointSlices = new("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, [], false);

    public static IReadOnlyList<ResourceType> All { get; } = [Namespaces, Services, Pods, Endpoints, ConfigMaps, EndpointSlices];

    /// <summary>Finds a resource by plural, singular, kind or short name (case-insensitive), as kubectl would.</summary>
    public static ResourceType? Find(string name)
    {
        foreach (var t in All)
        {
            if (string.Equals(t.Plural, name, StringComparison.OrdinalIgnoreCase)
                || string.Equals(t.Singular, name, StringComparison.OrdinalIgnoreCase)
                || string.Equals(t.Kind, name, StringComparison.OrdinalIgnoreCase)
                || t.ShortNames.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                return t;
            }
        }
        return null;
    }

    /// <summary>Finds the resource served at group/version with this plural name.</summary>
    public static ResourceType? Find(string group, string version, string plural)
    {
        foreach (var t in All)
        {
            if (t.Group == group && t.Version == version && t.Plural == plural)
            {
                return t;
            }
        }
        return null;
    }

    public static ResourceType Require(string name) =>
        Find(name) ?? throw new KubeApiException(404, "NotFound", $"the server doesn't have a resource type \"{name}\"");

    public static ResourceType ForKind(string? apiVersion, string? kind)
    {
        foreach (var t in All)
        {
            if (t.Kind == kind && (apiVersion is null || t.ApiVersion == apiVersion))
            {
                return t;
            }
        }
        throw new KubeApiException(400, "BadRequest", $"no kind \"{kind}\" is registered for version \"{apiVersion}\"");
    }
}
