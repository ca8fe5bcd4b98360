using Prometheus;

namespace ClusterDns.Server.Plugins.Cache;

/// <summary>cache's metrics under CoreDNS's names and labels.</summary>
public static class CacheMetrics
{
    private static readonly string[] ZoneLabels = ["server", "zones", "view"];
    private static readonly string[] TypedLabels = ["server", "type", "zones", "view"];

    public static readonly Gauge Entries = Metrics.CreateGauge("coredns_cache_entries", "The number of elements in the cache.",
        new GaugeConfiguration { LabelNames = TypedLabels });
    public static readonly Counter Hits = Metrics.CreateCounter("coredns_cache_hits_total", "The count of cache hits.",
        new CounterConfiguration { LabelNames = TypedLabels });
    public static readonly Counter Misses = Metrics.CreateCounter("coredns_cache_misses_total", "The count of cache misses. Deprecated, derive misses from cache hits/requests counters.",
        new CounterConfiguration { LabelNames = ZoneLabels });
    public static readonly Counter Requests = Metrics.CreateCounter("coredns_cache_requests_total", "The count of cache requests.",
        new CounterConfiguration { LabelNames = ZoneLabels });
    public static readonly Counter Prefetch = Metrics.CreateCounter("coredns_cache_prefetch_total", "The number of times the cache has prefetched a cached item.",
        new CounterConfiguration { LabelNames = ZoneLabels });
    public static readonly Counter Drops = Metrics.CreateCounter("coredns_cache_drops_total", "The number responses that are not cached, because the reply is malformed.",
        new CounterConfiguration { LabelNames = ZoneLabels });
    public static readonly Counter ServedStale = Metrics.CreateCounter("coredns_cache_served_stale_total", "The number of requests served from stale cache entries.",
        new CounterConfiguration { LabelNames = ZoneLabels });
    public static readonly Counter Evictions = Metrics.CreateCounter("coredns_cache_evictions_total", "The count of cache evictions.",
        new CounterConfiguration { LabelNames = TypedLabels });

    /// <summary>The metric children of one server label, resolved once at setup so a query does no label lookup.</summary>
    public sealed class ServerSet
    {
        public ServerSet(string server, string zones)
        {
            Server = server;
            EntriesSuccess = Entries.WithLabels(server, "success", zones, "");
            EntriesDenial = Entries.WithLabels(server, "denial", zones, "");
            HitsSuccess = Hits.WithLabels(server, "success", zones, "");
            HitsDenial = Hits.WithLabels(server, "denial", zones, "");
            EvictionsSuccess = Evictions.WithLabels(server, "success", zones, "");
            EvictionsDenial = Evictions.WithLabels(server, "denial", zones, "");
            MissCount = Misses.WithLabels(server, zones, "");
            RequestCount = Requests.WithLabels(server, zones, "");
            PrefetchCount = Prefetch.WithLabels(server, zones, "");
            DropCount = Drops.WithLabels(server, zones, "");
            ServedStaleCount = ServedStale.WithLabels(server, zones, "");
        }

        public string Server { get; }
        public Gauge.Child EntriesSuccess { get; }
        public Gauge.Child EntriesDenial { get; }
        public Counter.Child HitsSuccess { get; }
        public Counter.Child HitsDenial { get; }
        public Counter.Child EvictionsSuccess { get; }
        public Counter.Child EvictionsDenial { get; }
        public Counter.Child MissCount { get; }
        public Counter.Child RequestCount { get; }
        public Counter.Child PrefetchCount { get; }
        public Counter.Child DropCount { get; }
        public Counter.Child ServedStaleCount { get; }
    }
}
