using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Plugins.Cache;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Hosts;

/// <summary>The addresses of one name, as ready rdata.</summary>
public sealed class HostAddresses
{
    public List<byte[]> V4 { get; } = [];
    public List<byte[]> V6 { get; } = [];
}

/// <summary>
/// An immutable view of hosts entries: name to addresses, and reverse name (<c>4.3.2.1.in-addr.arpa.</c>) to names,
/// both keyed by lower-case wire names so a lookup is a span probe.
/// </summary>
public sealed class HostsTable
{
    public static readonly HostsTable Empty = new([]);

    private readonly Dictionary<byte[], HostAddresses> _names = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], List<byte[]>> _reverse = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], HostAddresses>.AlternateLookup<ReadOnlySpan<byte>> _nameLookup;
    private readonly Dictionary<byte[], List<byte[]>>.AlternateLookup<ReadOnlySpan<byte>> _reverseLookup;

    public HostsTable(IEnumerable<HostsEntry> entries)
    {
        foreach (var entry in entries)
        {
            var rdata = entry.Address.GetAddressBytes();
            var reverse = DnsName.Encode(ReverseName(entry.Address));
            foreach (var name in entry.Names)
            {
                var wire = DnsName.Encode(name);
                if (!_names.TryGetValue(wire, out var addresses)) _names[wire] = addresses = new HostAddresses();
                var list = entry.Address.AddressFamily == AddressFamily.InterNetworkV6 ? addresses.V6 : addresses.V4;
                if (!list.Exists(existing => existing.AsSpan().SequenceEqual(rdata))) list.Add(rdata);
                if (!_reverse.TryGetValue(reverse, out var targets)) _reverse[reverse] = targets = [];
                if (!targets.Exists(existing => existing.AsSpan().SequenceEqual(wire))) targets.Add(wire);
            }
        }
        _nameLookup = _names.GetAlternateLookup<ReadOnlySpan<byte>>();
        _reverseLookup = _reverse.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    /// <summary>The number of names (what coredns_hosts_entries reports).</summary>
    public int Count => _names.Count;

    public HostAddresses? Lookup(ReadOnlySpan<byte> name) => _nameLookup.TryGetValue(name, out var addresses) ? addresses : null;

    public List<byte[]>? LookupReverse(ReadOnlySpan<byte> reverseName) => _reverseLookup.TryGetValue(reverseName, out var names) ? names : null;

    public static string ReverseName(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork) return $"{bytes[3]}.{bytes[2]}.{bytes[1]}.{bytes[0]}.in-addr.arpa.";
        var builder = new System.Text.StringBuilder(72);
        for (var i = bytes.Length - 1; i >= 0; i--)
        {
            builder.Append("0123456789abcdef"[bytes[i] & 0xF]).Append('.');
            builder.Append("0123456789abcdef"[bytes[i] >> 4]).Append('.');
        }
        return builder.Append("ip6.arpa.").ToString();
    }
}

/// <summary>One line of a hosts file: an address and its names.</summary>
public sealed record HostsEntry(IPAddress Address, IReadOnlyList<string> Names);

/// <summary>Reads the /etc/hosts format: <c>IP name [aliases...]</c>, comments after <c>#</c>.</summary>
public static class HostsFileParser
{
    /// <summary>Parses file text; lines that are not entries are skipped, as CoreDNS does for files.</summary>
    public static List<HostsEntry> Parse(string text, IReadOnlyList<string> origins)
    {
        var entries = new List<HostsEntry>();
        foreach (var raw in text.Split('\n'))
        {
            if (TryParseLine(raw, origins, out var entry, out _)) entries.Add(entry);
        }
        return entries;
    }

    /// <summary>One line; <paramref name="error"/> says why a non-empty line is not an entry.</summary>
    public static bool TryParseLine(string line, IReadOnlyList<string> origins, out HostsEntry entry, out string? error)
    {
        entry = null!;
        error = null;
        var hash = line.IndexOf('#', StringComparison.Ordinal);
        if (hash >= 0) line = line[..hash];
        var fields = line.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 0) return false;
        return TryParseFields(fields, origins, out entry, out error);
    }

    public static bool TryParseFields(IReadOnlyList<string> fields, IReadOnlyList<string> origins, out HostsEntry entry, out string? error)
    {
        entry = null!;
        error = null;
        var addressText = fields[0];
        var percent = addressText.IndexOf('%', StringComparison.Ordinal);
        if (percent >= 0) addressText = addressText[..percent]; // a zone index (fe80::1%eth0) is not part of the address
        if (!IPAddress.TryParse(addressText, out var address) || !LooksLikeAddress(addressText))
        {
            error = $"'{fields[0]}' is not an IP address";
            return false;
        }
        if (fields.Count < 2)
        {
            error = $"no host name after '{fields[0]}'";
            return false;
        }
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var names = new List<string>();
        for (var i = 1; i < fields.Count; i++)
        {
            string name;
            try
            {
                name = DnsName.Normalize(fields[i]);
            }
            catch (FormatException exception)
            {
                error = $"invalid host name '{fields[i]}': {exception.Message}";
                return false;
            }
            if (name.Contains('*', StringComparison.Ordinal) || name.Contains('<', StringComparison.Ordinal) || name.Contains('>', StringComparison.Ordinal))
            {
                error = $"invalid host name '{fields[i]}'";
                return false;
            }
            if (InOrigins(name, origins)) names.Add(name);
        }
        entry = new HostsEntry(address, names);
        return true;
    }

    // IPAddress.TryParse accepts "1" or "1.2" as IPv4 shorthands; a hosts file means dotted quads or IPv6.
    private static bool LooksLikeAddress(string text) => text.Contains(':', StringComparison.Ordinal) || text.Split('.').Length == 4;

    private static bool InOrigins(string name, IReadOnlyList<string> origins)
    {
        foreach (var origin in origins)
        {
            if (origin == "." || name == origin || name.EndsWith("." + origin, StringComparison.Ordinal)) return true;
        }
        return false;
    }
}
