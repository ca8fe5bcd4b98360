using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins;

namespace ClusterDns;

/// <summary>Every plugin this executable ships: the engine's built-ins and the kubernetes plugin.</summary>
public static class PluginRegistration
{
    public static PluginCatalog CreateCatalog() => BuiltInPlugins.CreateCatalog().Add(ClusterDns.Kubernetes.KubernetesPlugin.Definition);
}
