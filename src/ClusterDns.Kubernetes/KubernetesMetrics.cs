using Prometheus;

namespace ClusterDns.Kubernetes;

/// <summary>The plugin's metrics, on the default registry under CoreDNS's names (and ours under the same prefix).</summary>
public static class KubernetesMetrics
{
    public static readonly Histogram DnsProgrammingDuration = Metrics.CreateHistogram(
        "coredns_kubernetes_dns_programming_duration_seconds",
        "Histogram of the time (in seconds) it took to program a dns instance.",
        new HistogramConfiguration { LabelNames = ["service_kind"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 20) });

    public static readonly Counter Lists = Metrics.CreateCounter(
        "coredns_kubernetes_lists_total", "Complete lists of a resource (first sync and relists).", "resource");

    public static readonly Counter Relists = Metrics.CreateCounter(
        "coredns_kubernetes_relists_total", "Relists forced by an expired resourceVersion (410).", "resource");

    public static readonly Counter WatchEvents = Metrics.CreateCounter(
        "coredns_kubernetes_watch_events_total", "Watch events received.", "resource", "type");

    public static readonly Counter ApiErrors = Metrics.CreateCounter(
        "coredns_kubernetes_api_errors_total", "Failed list or watch calls (each followed by a backoff).", "resource");

    public static readonly Gauge Names = Metrics.CreateGauge(
        "coredns_kubernetes_names", "Names currently answered from the cluster's objects.");

    public static readonly Gauge Synced = Metrics.CreateGauge(
        "coredns_kubernetes_synced", "1 once every informer listed once, else 0.");
}
