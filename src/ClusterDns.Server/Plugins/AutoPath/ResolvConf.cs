namespace ClusterDns.Server.Plugins.AutoPath;

/// <summary>
/// The search list of a resolv.conf (<c>search a b c</c>; the last <c>search</c> or <c>domain</c> line wins, as in
/// glibc), normalized to lower case with a trailing dot.
/// </summary>
public static class ResolvConf
{
    public static IReadOnlyList<string> ReadSearch(string path) => ParseSearch(File.ReadAllLines(path));

    public static IReadOnlyList<string> ParseSearch(IEnumerable<string> lines)
    {
        List<string> search = [];
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields[0] is not ("search" or "domain")) continue;
            search = [];
            for (var i = 1; i < fields.Length; i++) search.Add(Wire.DnsName.Normalize(fields[i]));
        }
        return search;
    }
}
