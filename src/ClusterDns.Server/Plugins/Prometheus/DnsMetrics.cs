using System.Reflection;
using System.Runtime.InteropServices;
using ClusterDns.Server.Pipeline;
using Prometheus;

namespace ClusterDns.Server.Plugins.Prometheus;

/// <summary>
/// The process-wide metrics of the prometheus plugin, with CoreDNS's names, help texts, labels and buckets
/// (plugin/metrics/vars), so the CoreDNS dashboards and alerts read them unchanged.
/// </summary>
public static class DnsMetrics
{
    /// <summary>CoreDNS's plugin.TimeBuckets: 0.25 ms doubling 16 times (to about 8 s).</summary>
    public static readonly double[] TimeBuckets = Histogram.ExponentialBuckets(0.00025, 2, 16);

    /// <summary>CoreDNS's message size buckets.</summary>
    public static readonly double[] SizeBuckets = [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3];

    static DnsMetrics()
    {
        // CoreDNS exports process_* (and go_*); keep prometheus-net's process metrics, drop the adapters that would
        // add hundreds of .NET-specific series. Takes effect because nothing has been collected yet.
        global::Prometheus.Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions
        {
            SuppressProcessMetrics = false,
            SuppressDebugMetrics = true,
            SuppressEventCounters = true,
            SuppressMeters = true,
        });

        RequestCount = global::Prometheus.Metrics.CreateCounter("coredns_dns_requests_total",
            "Counter of DNS requests made per zone, protocol and family.", "server", "zone", "view", "proto", "family", "type");
        RequestDuration = global::Prometheus.Metrics.CreateHistogram("coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took per zone.",
            new HistogramConfiguration { LabelNames = ["server", "zone", "view"], Buckets = TimeBuckets });
        RequestSize = global::Prometheus.Metrics.CreateHistogram("coredns_dns_request_size_bytes",
            "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.",
            new HistogramConfiguration { LabelNames = ["server", "zone", "view", "proto"], Buckets = SizeBuckets });
        RequestDo = global::Prometheus.Metrics.CreateCounter("coredns_dns_do_requests_total",
            "Counter of DNS requests with DO bit set per zone.", "server", "zone", "view");
        ResponseSize = global::Prometheus.Metrics.CreateHistogram("coredns_dns_response_size_bytes",
            "Size of the returned response in bytes.",
            new HistogramConfiguration { LabelNames = ["server", "zone", "view", "proto"], Buckets = SizeBuckets });
        ResponseRcode = global::Prometheus.Metrics.CreateCounter("coredns_dns_responses_total",
            "Counter of response status codes.", "server", "zone", "view", "rcode", "plugin");
        Panics = global::Prometheus.Metrics.CreateCounter("coredns_panics_total", "A metrics that counts the number of panics.");
        PluginEnabled = global::Prometheus.Metrics.CreateGauge("coredns_plugin_enabled",
            "A metric that indicates whether a plugin is enabled on per server and zone basis.", "server", "zone", "view", "name");
        BuildInfo = global::Prometheus.Metrics.CreateGauge("coredns_build_info",
            "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.",
            "version", "revision", "goversion");

        var informational = typeof(DnsMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+');
        var version = plus < 0 ? informational : informational[..plus];
        var revision = plus < 0 ? "" : informational[(plus + 1)..];
        if (revision.Length > 7) revision = revision[..7];
        BuildInfo.WithLabels(version, revision, RuntimeInformation.FrameworkDescription).Set(1);

        DnsQueryProcessor.PanicObserved = () => Panics.Inc();

        // Go's client exports these and the CoreDNS dashboards chart them; prometheus-net names memory differently.
        var resident = global::Prometheus.Metrics.CreateGauge("process_resident_memory_bytes", "Resident memory size in bytes.");
        var openFds = global::Prometheus.Metrics.CreateGauge("process_open_fds", "Number of open file descriptors.");
        global::Prometheus.Metrics.DefaultRegistry.AddBeforeCollectCallback(() =>
        {
            resident.Set(Environment.WorkingSet);
            try
            {
                openFds.Set(Directory.GetFiles("/proc/self/fd").Length);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // not Linux, or no procfs: leave it at its last value
            }
        });
    }

    public static Counter RequestCount { get; }
    public static Histogram RequestDuration { get; }
    public static Histogram RequestSize { get; }
    public static Counter RequestDo { get; }
    public static Histogram ResponseSize { get; }
    public static Counter ResponseRcode { get; }
    public static Counter Panics { get; }
    public static Gauge PluginEnabled { get; }
    public static Gauge BuildInfo { get; }

    /// <summary>Makes sure the metrics exist (and the panic hook is set) before the first query or scrape.</summary>
    public static void EnsureRegistered() { }

    private static readonly Dictionary<(string Server, string Zone, string Name), int> EnabledCounts = [];

    /// <summary>Marks a plugin enabled for a server and zone; counted, so a reload that keeps it never drops the series.</summary>
    public static void AddEnabled(string server, string zone, string name)
    {
        lock (EnabledCounts)
        {
            var key = (server, zone, name);
            EnabledCounts[key] = EnabledCounts.GetValueOrDefault(key) + 1;
            PluginEnabled.WithLabels(server, zone, "", name).Set(1);
        }
    }

    public static void RemoveEnabled(string server, string zone, string name)
    {
        lock (EnabledCounts)
        {
            var key = (server, zone, name);
            var count = EnabledCounts.GetValueOrDefault(key) - 1;
            if (count > 0)
            {
                EnabledCounts[key] = count;
                return;
            }
            EnabledCounts.Remove(key);
            PluginEnabled.RemoveLabelled(server, zone, "", name);
        }
    }

    /// <summary>
    /// CoreDNS's type label (vars/monitor.go): the common types by name, every other type as <c>other</c>.
    /// Returns the index into <see cref="TypeLabels"/>.
    /// </summary>
    public static int TypeIndex(ushort type) => type switch
    {
        1 => 0,    // A
        28 => 1,   // AAAA
        5 => 2,    // CNAME
        48 => 3,   // DNSKEY
        43 => 4,   // DS
        15 => 5,   // MX
        50 => 6,   // NSEC3
        47 => 7,   // NSEC
        2 => 8,    // NS
        12 => 9,   // PTR
        46 => 10,  // RRSIG
        6 => 11,   // SOA
        33 => 12,  // SRV
        16 => 13,  // TXT
        65 => 14,  // HTTPS
        64 => 15,  // SVCB
        251 => 16, // IXFR
        252 => 17, // AXFR
        255 => 18, // ANY
        _ => 19,
    };

    public static readonly string[] TypeLabels =
        ["A", "AAAA", "CNAME", "DNSKEY", "DS", "MX", "NSEC3", "NSEC", "NS", "PTR", "RRSIG", "SOA", "SRV", "TXT", "HTTPS", "SVCB", "IXFR", "AXFR", "ANY", "other"];
}
