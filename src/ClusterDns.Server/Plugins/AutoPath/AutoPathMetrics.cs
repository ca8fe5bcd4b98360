using Prometheus;

namespace ClusterDns.Server.Plugins.AutoPath;

/// <summary>autopath's metric under CoreDNS's name.</summary>
public static class AutoPathMetrics
{
    public static readonly Counter Success = Metrics.CreateCounter("coredns_autopath_success_total", "Counter of requests that did autopath.",
        new CounterConfiguration { LabelNames = ["server", "view"] });
}
