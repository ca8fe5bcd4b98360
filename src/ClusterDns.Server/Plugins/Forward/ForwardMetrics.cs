using Prometheus;

namespace ClusterDns.Server.Plugins.Forward;

/// <summary>forward's metrics under CoreDNS's current names (the <c>coredns_proxy_*</c> family since CoreDNS 1.11).</summary>
public static class ForwardMetrics
{
    public const string ProxyName = "forward";

    public static readonly Histogram RequestDuration = Metrics.CreateHistogram("coredns_proxy_request_duration_seconds",
        "Histogram of the time each request took.",
        new HistogramConfiguration { LabelNames = ["proxy_name", "to", "rcode"], Buckets = Histogram.ExponentialBuckets(0.00025, 2, 16) });

    public static readonly Counter HealthcheckFailures = Metrics.CreateCounter("coredns_proxy_healthcheck_failures_total",
        "Counter of the number of failed healthchecks.", new CounterConfiguration { LabelNames = ["proxy_name", "to"] });

    public static readonly Counter ConnCacheHits = Metrics.CreateCounter("coredns_proxy_conn_cache_hits_total",
        "Counter of connection cache hits per upstream and protocol.", new CounterConfiguration { LabelNames = ["proxy_name", "to", "proto"] });

    public static readonly Counter ConnCacheMisses = Metrics.CreateCounter("coredns_proxy_conn_cache_misses_total",
        "Counter of connection cache misses per upstream and protocol.", new CounterConfiguration { LabelNames = ["proxy_name", "to", "proto"] });

    public static readonly Counter HealthcheckBroken = Metrics.CreateCounter("coredns_forward_healthcheck_broken_total",
        "Counter of the number of complete failures of the healthchecks.");

    public static readonly Counter MaxConcurrentRejects = Metrics.CreateCounter("coredns_forward_max_concurrent_rejects_total",
        "Counter of the number of queries rejected because the concurrent queries were at maximum.");
}
