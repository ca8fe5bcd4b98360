using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins.Cache;
using ClusterDns.Server.Plugins.Forward;
using ClusterDns.Server.Plugins.Hosts;
using ClusterDns.Server.Plugins.LoadBalance;
using ClusterDns.Server.Plugins.Loop;
using ClusterDns.Server.Plugins.Whoami;

namespace ClusterDns.Server.Plugins;

/// <summary>The plugins of the engine assembly; the executable adds the kubernetes plugin to these.</summary>
public static class BuiltInPlugins
{
    public static PluginCatalog CreateCatalog() => new PluginCatalog()
        .Add(WhoamiPlugin.Definition)
        .Add(CachePlugin.Definition)
        .Add(ForwardPlugin.Definition)
        .Add(HostsPlugin.Definition)
        .Add(LoadBalancePlugin.Definition)
        .Add(LoopPlugin.Definition);
}
