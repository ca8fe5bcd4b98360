using System.Globalization;
using System.Net;

namespace ClusterDns.LoadCheck;

/// <summary>
/// One name to query and the answers that count as correct: alternatives separated by '|', each an rcode word
/// (NXDOMAIN, SERVFAIL, REFUSED, NOERROR for an empty answer) or a comma-separated set of A/AAAA addresses.
/// Several alternatives let a check accept the old or the new answer around a change, and nothing else.
/// </summary>
internal sealed class Expectation
{
    private static readonly Dictionary<string, int> Rcodes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["NOERROR"] = 0, ["SERVFAIL"] = 2, ["NXDOMAIN"] = 3, ["REFUSED"] = 5,
    };

    private Expectation(string name, ushort type, byte[] query, List<AnswerSet> accepted)
    {
        Name = name;
        Type = type;
        Query = query;
        Accepted = accepted;
    }

    public string Name { get; }
    public ushort Type { get; }
    /// <summary>The query message with ID 0; the sender patches the ID in a copy.</summary>
    public byte[] Query { get; }
    public IReadOnlyList<AnswerSet> Accepted { get; }

    /// <summary>Parses "NAME TYPE ALT|ALT...", e.g. "web.default.svc.cluster.local A 10.244.1.10,10.244.2.10".</summary>
    public static Expectation Parse(string spec)
    {
        var parts = spec.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3) throw new FormatException($"expectation '{spec}' is not NAME TYPE ANSWERS");
        ushort type = parts[1].ToUpperInvariant() switch
        {
            "A" => 1,
            "AAAA" => 28,
            _ => throw new FormatException($"type {parts[1]} is not A or AAAA"),
        };
        var accepted = new List<AnswerSet>();
        foreach (var alternative in parts[2].Split('|'))
        {
            if (Rcodes.TryGetValue(alternative, out var rcode))
            {
                accepted.Add(new AnswerSet(rcode, []));
                continue;
            }
            var addresses = alternative.Split(',').Select(a => IPAddress.Parse(a).ToString()).Order(StringComparer.Ordinal).ToArray();
            accepted.Add(new AnswerSet(0, addresses));
        }
        return new Expectation(parts[0].TrimEnd('.'), type, DnsWire.BuildQuery(parts[0], type), accepted);
    }

    public bool IsCorrect(AnswerSet answer)
    {
        foreach (var accepted in Accepted)
            if (accepted.Equals(answer)) return true;
        return false;
    }

    public override string ToString() => $"{Name} {(Type == 1 ? "A" : "AAAA")} {string.Join('|', Accepted)}";
}

/// <summary>An rcode and the sorted addresses of the answer section.</summary>
internal sealed record AnswerSet(int Rcode, string[] Addresses)
{
    public bool Equals(AnswerSet? other) =>
        other is not null && Rcode == other.Rcode && Addresses.AsSpan().SequenceEqual(other.Addresses);

    public override int GetHashCode() => HashCode.Combine(Rcode, Addresses.Length);

    public override string ToString() =>
        Addresses.Length > 0 ? string.Join(',', Addresses) : Rcode.ToString(CultureInfo.InvariantCulture) switch
        {
            "0" => "NOERROR",
            "2" => "SERVFAIL",
            "3" => "NXDOMAIN",
            "5" => "REFUSED",
            var other => "rcode" + other,
        };
}
