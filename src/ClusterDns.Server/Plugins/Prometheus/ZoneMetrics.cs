using System.Net.Sockets;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;
using Prometheus;

namespace ClusterDns.Server.Plugins.Prometheus;

/// <summary>
/// The metric children of one server zone, resolved once and kept on <see cref="ServerZone.MetricsState"/>, so
/// recording a query indexes arrays instead of looking label values up. Children appear on first use, so only the
/// series CoreDNS would show (those with traffic) are exported.
/// </summary>
public sealed class ZoneMetrics
{
    private const int Protos = 2, Families = 2;
    private static readonly string[] ProtoLabels = ["udp", "tcp"];
    private static readonly string[] FamilyLabels = ["1", "2"];
    private static readonly int TypeCount = DnsMetrics.TypeLabels.Length;

    private readonly string _server;
    private readonly string _zone;
    private readonly Counter.Child?[] _requests = new Counter.Child?[Protos * Families * TypeCount];
    private readonly Histogram.Child _duration;
    private readonly Histogram.Child[] _requestSize;
    private readonly Histogram.Child[] _responseSize;
    private readonly Counter.Child _do;
    private volatile ResponseCounters[] _responses = [];

    public ZoneMetrics(string server, string zone)
    {
        _server = server;
        _zone = zone;
        _duration = DnsMetrics.RequestDuration.WithLabels(server, zone, "");
        _requestSize = [DnsMetrics.RequestSize.WithLabels(server, zone, "", "udp"), DnsMetrics.RequestSize.WithLabels(server, zone, "", "tcp")];
        _responseSize = [DnsMetrics.ResponseSize.WithLabels(server, zone, "", "udp"), DnsMetrics.ResponseSize.WithLabels(server, zone, "", "tcp")];
        _do = DnsMetrics.RequestDo.WithLabels(server, zone, "");
    }

    public static ZoneMetrics For(ServerZone zone)
    {
        if (zone.MetricsState is ZoneMetrics metrics) return metrics;
        // Two first queries may race here; both build equal children (prometheus-net dedupes them) and one wins.
        metrics = new ZoneMetrics(zone.Server, zone.Zone);
        zone.MetricsState = metrics;
        return metrics;
    }

    /// <summary>Records one finished query, as CoreDNS's vars.Report does.</summary>
    public void Report(DnsRequestContext request, int rcode, string plugin, int responseSize)
    {
        var proto = request.Transport == DnsTransport.Tcp ? 1 : 0;
        var family = request.Family == AddressFamily.InterNetworkV6 ? 1 : 0;
        var type = DnsMetrics.TypeIndex(request.QType);
        var index = (proto * Families + family) * TypeCount + type;
        var requests = _requests[index] ??= DnsMetrics.RequestCount.WithLabels(_server, _zone, "", ProtoLabels[proto], FamilyLabels[family], DnsMetrics.TypeLabels[type]);
        if (request.DnssecOk) _do.Inc();
        requests.Inc();
        _duration.Observe(System.Diagnostics.Stopwatch.GetElapsedTime(request.StartTimestamp).TotalSeconds);
        _responseSize[proto].Observe(responseSize);
        _requestSize[proto].Observe(request.QueryLength);
        ResponseCounter(plugin, rcode).Inc();
    }

    private Counter.Child ResponseCounter(string plugin, int rcode)
    {
        var entries = _responses;
        foreach (var entry in entries)
        {
            if (ReferenceEquals(entry.Plugin, plugin) || entry.Plugin == plugin) return entry.Get(rcode, _server, _zone);
        }
        lock (this)
        {
            entries = _responses;
            foreach (var entry in entries)
            {
                if (entry.Plugin == plugin) return entry.Get(rcode, _server, _zone);
            }
            var added = new ResponseCounters(plugin);
            _responses = [.. entries, added];
            return added.Get(rcode, _server, _zone);
        }
    }

    private sealed class ResponseCounters(string plugin)
    {
        private readonly Counter.Child?[] _byRcode = new Counter.Child?[16];
        public string Plugin { get; } = plugin;

        public Counter.Child Get(int rcode, string server, string zone)
        {
            if ((uint)rcode < 16) return _byRcode[rcode] ??= DnsMetrics.ResponseRcode.WithLabels(server, zone, "", DnsRcode.ToText(rcode), Plugin);
            return DnsMetrics.ResponseRcode.WithLabels(server, zone, "", DnsRcode.ToText(rcode), Plugin);
        }
    }
}
