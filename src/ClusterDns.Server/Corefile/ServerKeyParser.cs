using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClusterDns.Server.Corefile;

/// <summary>
/// Turns one server block key (<c>.:53</c>, <c>dns://cluster.local</c>, <c>10.0.0.0/24</c>) into zones and a port
/// the way CoreDNS's core/dnsserver does: the port is whatever follows the last colon when that is a number
/// (a reverse CIDR always has its <c>/mask</c> before the port, so IPv6 colons are no trouble), and a CIDR becomes
/// the reverse zones covering it.
/// </summary>
internal static class ServerKeyParser
{
    public static List<ServerKey> Parse(string key, Lexeme at)
    {
        string scheme = "dns", rest = key;
        int schemeEnd = key.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd >= 0)
        {
            scheme = key[..schemeEnd].ToLowerInvariant();
            rest = key[(schemeEnd + 3)..];
            if (scheme != "dns")
                throw Error(at, $"key '{key}': the {scheme}:// transport is not supported, ClusterDns serves plain DNS (dns://) only");
        }

        int? port = null;
        string host = rest;
        int colon = rest.LastIndexOf(':');
        if (colon >= 0 && colon == rest.Length - 1)
            throw Error(at, $"key '{key}': expecting a port after the last ':'");
        if (colon >= 0 && IsDigits(rest.AsSpan(colon + 1)))
        {
            string digits = rest[(colon + 1)..];
            if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p < 1 || p > 65535)
                throw Error(at, $"key '{key}': port {digits} is not valid, a port is a number from 1 to 65535");
            port = p;
            host = rest[..colon];
        }

        if (host.Length == 0)
            throw Error(at, $"key '{key}' names no zone: write '.' for the root zone, as in '.:53'");
        if (host.Length > 255)
            throw Error(at, $"key '{key}': the zone is too long ({host.Length} > 255 characters)");

        var keys = new List<ServerKey>();
        if (host.Contains('/'))
        {
            foreach (string zone in ReverseZones(host) ?? throw Error(at, $"key '{key}': '{host}' is not a valid CIDR (an address and a prefix length, as in 10.0.0.0/24)"))
                keys.Add(new ServerKey(scheme, zone, port, key));
            return keys;
        }

        if (!IsDomainName(host))
            throw Error(at, $"key '{key}': '{host}' is not a valid zone name");
        string normalized = host.ToLowerInvariant();
        keys.Add(new ServerKey(scheme, normalized.EndsWith('.') ? normalized : normalized + ".", port, key));
        return keys;
    }

    /// <summary>
    /// The reverse zones of a CIDR. A prefix that is not on a label boundary (8 bits for IPv4, 4 for IPv6) is split
    /// into the subnets at the next boundary, as CoreDNS does: 10.0.0.0/22 serves 0.0.10 to 3.0.10.in-addr.arpa.
    /// Null when <paramref name="cidr"/> is not an address and a prefix length.
    /// </summary>
    public static List<string>? ReverseZones(string cidr)
    {
        int slash = cidr.IndexOf('/');
        string address = cidr[..slash], length = cidr[(slash + 1)..];
        if (address.Contains('%') || !IPAddress.TryParse(address, out IPAddress? ip) || !IsDigits(length))
            return null;
        bool v4 = ip.AddressFamily == AddressFamily.InterNetwork;
        // IPAddress.TryParse also takes "10.1" and "167772160"; Go's ParseCIDR (and so CoreDNS) wants all four octets.
        if (v4 && address.Split('.').Length != 4)
            return null;
        int bits = v4 ? 32 : 128, labelBits = v4 ? 8 : 4;
        if (!int.TryParse(length, NumberStyles.None, CultureInfo.InvariantCulture, out int prefix) || prefix > bits)
            return null;

        UInt128 value = 0;
        foreach (byte b in ip.GetAddressBytes())
            value = (value << 8) | b;
        UInt128 hostMask = prefix == 0 ? UInt128.MaxValue >> (128 - bits) : (((UInt128)1 << (bits - prefix)) - 1);
        value &= ~hostMask;

        int rounded = (prefix + labelBits - 1) / labelBits * labelBits;
        int count = 1 << (rounded - prefix);
        var zones = new List<string>(count);
        for (int k = 0; k < count; k++)
        {
            UInt128 network = value | ((UInt128)k << (bits - rounded));
            var zone = new StringBuilder();
            for (int label = rounded / labelBits - 1; label >= 0; label--)
            {
                int digit = (int)((network >> (bits - labelBits * (label + 1))) & (UInt128)((1 << labelBits) - 1));
                zone.Append(v4 ? digit.ToString(CultureInfo.InvariantCulture) : digit.ToString("x", CultureInfo.InvariantCulture)).Append('.');
            }
            zones.Add(zone.Append(v4 ? "in-addr.arpa." : "ip6.arpa.").ToString());
        }
        return zones;
    }

    /// <summary>
    /// As liberal as miekg/dns IsDomainName, which CoreDNS uses: any characters, but no empty label (except the root
    /// itself) and no label over 63 characters. Whitespace and braces are refused: they only get into a key by mistake.
    /// </summary>
    private static bool IsDomainName(string name)
    {
        if (name == ".")
            return true;
        string trimmed = name.EndsWith('.') ? name[..^1] : name;
        foreach (string label in trimmed.Split('.'))
        {
            if (label.Length is 0 or > 63)
                return false;
            foreach (char c in label)
            {
                if (char.IsWhiteSpace(c) || char.IsControl(c) || c is '{' or '}' or '(' or ')' or '"')
                    return false;
            }
        }
        return true;
    }

    private static bool IsDigits(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty)
            return false;
        foreach (char c in s)
        {
            if (c is < '0' or > '9')
                return false;
        }
        return true;
    }

    private static CorefileException Error(Lexeme at, string detail) => new(at.File, at.Line, null, detail);
}
