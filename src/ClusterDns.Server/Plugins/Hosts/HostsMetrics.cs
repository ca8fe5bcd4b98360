using Prometheus;

namespace ClusterDns.Server.Plugins.Hosts;

/// <summary>hosts's metrics under CoreDNS's names (the <c>hostsfile</c> label as in its code).</summary>
public static class HostsMetrics
{
    public static readonly Gauge Entries = Metrics.CreateGauge("coredns_hosts_entries", "The combined number of entries in hosts and Corefile.",
        new GaugeConfiguration { LabelNames = ["hostsfile"] });

    public static readonly Gauge ReloadTimestamp = Metrics.CreateGauge("coredns_hosts_reload_timestamp_seconds", "The timestamp of the last reload of hosts file.",
        new GaugeConfiguration { LabelNames = ["hostsfile"] });
}
