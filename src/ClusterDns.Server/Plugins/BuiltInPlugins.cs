using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins.Any;
using ClusterDns.Server.Plugins.AutoPath;
using ClusterDns.Server.Plugins.Bind;
using ClusterDns.Server.Plugins.Bufsize;
using ClusterDns.Server.Plugins.Cache;
using ClusterDns.Server.Plugins.Errors;
using ClusterDns.Server.Plugins.Forward;
using ClusterDns.Server.Plugins.Health;
using ClusterDns.Server.Plugins.Hosts;
using ClusterDns.Server.Plugins.LoadBalance;
using ClusterDns.Server.Plugins.Log;
using ClusterDns.Server.Plugins.Loop;
using ClusterDns.Server.Plugins.Prometheus;
using ClusterDns.Server.Plugins.Ready;
using ClusterDns.Server.Plugins.Reload;
using ClusterDns.Server.Plugins.Whoami;

namespace ClusterDns.Server.Plugins;

/// <summary>The plugins of the engine assembly; the executable adds the kubernetes plugin to these.</summary>
public static class BuiltInPlugins
{
    public static PluginCatalog CreateCatalog() => new PluginCatalog()
        .Add(ReloadPlugin.Definition)
        .Add(BufsizePlugin.Definition)
        .Add(BindPlugin.Definition)
        .Add(HealthPlugin.Definition)
        .Add(ReadyPlugin.Definition)
        .Add(PrometheusPlugin.Definition)
        .Add(ErrorsPlugin.Definition)
        .Add(LogPlugin.Definition)
        .Add(AnyPlugin.Definition)
        .Add(LoadBalancePlugin.Definition)
        .Add(CachePlugin.Definition)
        .Add(AutoPathPlugin.Definition)
        .Add(HostsPlugin.Definition)
        .Add(LoopPlugin.Definition)
        .Add(ForwardPlugin.Definition)
        .Add(WhoamiPlugin.Definition);
}
