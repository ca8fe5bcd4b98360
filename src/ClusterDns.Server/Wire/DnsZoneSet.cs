namespace ClusterDns.Server.Wire;

/// <summary>A set of zones in wire form, asked on the query path whether a name lies in any of them.</summary>
public sealed class DnsZoneSet
{
    private readonly byte[][] _zones;

    public DnsZoneSet(IReadOnlyList<string> zones)
    {
        _zones = new byte[zones.Count][];
        for (var i = 0; i < zones.Count; i++) _zones[i] = DnsName.Encode(zones[i]);
    }

    /// <summary>Whether <paramref name="name"/> (lower-case wire form) equals or lies below one of the zones.</summary>
    public bool Covers(ReadOnlySpan<byte> name)
    {
        foreach (var zone in _zones)
        {
            if (DnsName.IsSubdomain(name, zone)) return true;
        }
        return false;
    }
}
