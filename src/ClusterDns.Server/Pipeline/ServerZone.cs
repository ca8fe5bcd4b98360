using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Pipeline;

/// <summary>
/// One zone of a server block on one listener: the pipeline that serves it, and the labels its metrics carry
/// (<c>server="dns://:53"</c>, <c>zone="cluster.local."</c>).
/// </summary>
public sealed class ServerZone
{
    public ServerZone(string zone, string server, IDnsHandler pipeline, ServerBlockOptions options)
    {
        Zone = zone;
        ZoneWire = DnsName.Encode(zone);
        Server = server;
        Pipeline = pipeline;
        Options = options;
    }

    public string Zone { get; }
    public byte[] ZoneWire { get; }
    public string Server { get; }
    public string View => "";
    public IDnsHandler Pipeline { get; }
    public ServerBlockOptions Options { get; }
    /// <summary>Per-zone state a plugin attaches once at setup (such as its pre-resolved metric children).</summary>
    public object? MetricsState { get; set; }
}

/// <summary>Picks the zone with the longest suffix match of the query name; null means no block serves it.</summary>
public sealed class ZoneRouter
{
    private readonly ServerZone[] _zones;

    public ZoneRouter(IEnumerable<ServerZone> zones)
    {
        var list = new List<ServerZone>(zones);
        list.Sort((a, b) => b.ZoneWire.Length.CompareTo(a.ZoneWire.Length));
        _zones = list.ToArray();
    }

    public IReadOnlyList<ServerZone> Zones => _zones;

    public ServerZone? Find(ReadOnlySpan<byte> name)
    {
        foreach (var zone in _zones)
        {
            if (DnsName.IsSubdomain(name, zone.ZoneWire)) return zone;
        }
        return null;
    }
}

/// <summary>Settings of a server block that plugins change at setup (bind, bufsize) and the transport reads.</summary>
public sealed class ServerBlockOptions
{
    public List<System.Net.IPAddress> BindAddresses { get; } = [];
    /// <summary>The largest UDP response sent to an EDNS client; the client's own smaller size wins.</summary>
    public int MaxUdpSize { get; set; } = 4096;
    /// <summary>The UDP size our OPT record advertises.</summary>
    public ushort AdvertisedUdpSize { get; set; } = 1232;
}
