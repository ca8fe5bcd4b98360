using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.AutoPath;

/// <summary>Search domains as autopath walks them: lower-case wire names in order, each once, never the root.</summary>
public static class SearchPath
{
    /// <summary>
    /// <paramref name="domains"/> then <paramref name="more"/> (a host's own search domains), dropping repeats: a
    /// name repeated in the list would be tried twice, and the root is always tried last anyway.
    /// </summary>
    public static byte[][] Build(IEnumerable<string> domains, IEnumerable<string> more)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var list = new List<byte[]>();
        foreach (var domain in domains.Concat(more))
        {
            var normalized = DnsName.Normalize(domain);
            if (normalized == "." || !seen.Add(normalized)) continue;
            list.Add(DnsName.Encode(normalized));
        }
        return [.. list];
    }
}
