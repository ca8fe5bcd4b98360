using System.Net;

namespace ClusterDns.Server.Hosting;

/// <summary>
/// The parts of a resolv.conf the plugins read: its nameservers (forward's <c>forward . /etc/resolv.conf</c>) and its
/// search list (autopath), read as glibc reads them.
/// </summary>
public static class ResolvConf
{
    /// <summary>Every <c>nameserver</c> address, in file order (a zone index such as <c>%eth0</c> dropped).</summary>
    public static IReadOnlyList<IPAddress> ReadNameservers(string path)
    {
        List<IPAddress> nameservers = [];
        foreach (var fields in Directives(File.ReadLines(path)))
        {
            if (fields.Length >= 2 && fields[0] == "nameserver" && IPAddress.TryParse(fields[1].Split('%')[0], out var address)) nameservers.Add(address);
        }
        return nameservers;
    }

    public static IReadOnlyList<string> ReadSearch(string path) => ParseSearch(File.ReadAllLines(path));

    /// <summary>The search list (the last <c>search</c> or <c>domain</c> line wins), lower case with a trailing dot.</summary>
    public static IReadOnlyList<string> ParseSearch(IEnumerable<string> lines)
    {
        List<string> search = [];
        foreach (var fields in Directives(lines))
        {
            if (fields[0] is not ("search" or "domain")) continue;
            search = [];
            for (var i = 1; i < fields.Length; i++) search.Add(Wire.DnsName.Normalize(fields[i]));
        }
        return search;
    }

    private static IEnumerable<string[]> Directives(IEnumerable<string> lines)
    {
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            yield return line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        }
    }
}
