using System.Net;
using ClusterDns.Server.Plugins.Cache;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.LoadBalance;

/// <summary>A weight file's line that cannot be read: its line number and why.</summary>
public sealed class WeightFileException(string path, int line, string message) : FormatException($"{path}:{line}: {message}")
{
    public string Path { get; } = path;
    public int Line { get; } = line;
}

/// <summary>
/// The weights of a weight file: per domain name (lower-case wire form), the weight of each listed address. An address
/// the file does not list weighs 1, as in CoreDNS.
/// </summary>
public sealed class WeightTable
{
    public const byte DefaultWeight = 1;

    public static readonly WeightTable Empty = new(new Dictionary<byte[], (byte[] Address, byte Weight)[]>(ByteKeyComparer.Instance));

    private readonly Dictionary<byte[], (byte[] Address, byte Weight)[]> _domains;
    private readonly Dictionary<byte[], (byte[] Address, byte Weight)[]>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    private WeightTable(Dictionary<byte[], (byte[] Address, byte Weight)[]> domains)
    {
        _domains = domains;
        _lookup = domains.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int DomainCount => _domains.Count;

    /// <summary>The weight of <paramref name="address"/> (RDATA of an A or AAAA record) at <paramref name="name"/> (lower-case wire form).</summary>
    public byte WeightOf(ReadOnlySpan<byte> name, ReadOnlySpan<byte> address)
    {
        if (!_lookup.TryGetValue(name, out var weights)) return DefaultWeight;
        foreach (var (listed, weight) in weights)
        {
            if (address.SequenceEqual(listed)) return weight;
        }
        return DefaultWeight;
    }

    /// <summary>
    /// Reads CoreDNS's weight file format: a domain name on a line of its own, then `IP WEIGHT` lines (weight 1-255)
    /// for it; blank lines and lines starting with # are skipped.
    /// </summary>
    public static WeightTable Parse(string text, string path)
    {
        var domains = new Dictionary<byte[], List<(byte[] Address, byte Weight)>>(ByteKeyComparer.Instance);
        List<(byte[] Address, byte Weight)>? current = null;
        var lineNumber = 0;
        Span<Range> fields = stackalloc Range[3];
        foreach (var rawLine in text.AsSpan().EnumerateLines())
        {
            lineNumber++;
            var line = rawLine.Trim();
            if (line.IsEmpty || line[0] == '#') continue;
            var count = line.SplitAny(fields, " \t", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            switch (count)
            {
                case 1:
                    var domain = line[fields[0]];
                    if (IPAddress.TryParse(domain, out _))
                        throw new WeightFileException(path, lineNumber, $"'{domain}' is an address where a domain name belongs (a missing weight?)");
                    byte[] wire;
                    try
                    {
                        wire = DnsName.Encode(domain.ToString());
                    }
                    catch (FormatException exception)
                    {
                        throw new WeightFileException(path, lineNumber, $"invalid domain name '{domain}': {exception.Message}");
                    }
                    if (!domains.TryGetValue(wire, out current)) domains[wire] = current = [];
                    break;
                case 2:
                    var addressText = line[fields[0]];
                    var weightText = line[fields[1]];
                    if (!IPAddress.TryParse(addressText, out var address))
                        throw new WeightFileException(path, lineNumber, $"invalid IP address '{addressText}'");
                    if (!byte.TryParse(weightText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var weight) || weight == 0)
                        throw new WeightFileException(path, lineNumber, $"invalid weight '{weightText}' (1-255)");
                    if (current is null) throw new WeightFileException(path, lineNumber, "an address before any domain name");
                    current.Add((address.GetAddressBytes(), weight));
                    break;
                default:
                    throw new WeightFileException(path, lineNumber, $"cannot read '{line}': expected a domain name or 'IP WEIGHT'");
            }
        }
        var table = new Dictionary<byte[], (byte[] Address, byte Weight)[]>(ByteKeyComparer.Instance);
        foreach (var (name, weights) in domains) table[name] = [.. weights];
        return new WeightTable(table);
    }
}
