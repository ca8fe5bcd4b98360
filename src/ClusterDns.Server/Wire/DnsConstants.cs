namespace ClusterDns.Server.Wire;

/// <summary>Record types the server names in code; any other value passes through as a number.</summary>
public static class DnsType
{
    public const ushort A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28, SRV = 33, OPT = 41, ANY = 255, HINFO = 13;
}

public static class DnsClass
{
    public const ushort IN = 1, CH = 3, ANY = 255;
}

public static class DnsRcode
{
    public const int NoError = 0, FormErr = 1, ServFail = 2, NxDomain = 3, NotImp = 4, Refused = 5;

    /// <summary>
    /// CoreDNS's contract: a handler that returns one of these has not written a response yet,
    /// so the server (or a plugin above it) must write one.
    /// </summary>
    public static bool IsClientWriteRequired(int rcode) => rcode is ServFail or Refused or FormErr or NotImp;

    public static string ToText(int rcode) => rcode switch
    {
        NoError => "NOERROR",
        FormErr => "FORMERR",
        ServFail => "SERVFAIL",
        NxDomain => "NXDOMAIN",
        NotImp => "NOTIMP",
        Refused => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        _ => rcode.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

public static class DnsTypeNames
{
    private static readonly string[] Names = BuildNames();

    private static string[] BuildNames()
    {
        var names = new string[256];
        names[DnsType.A] = "A"; names[DnsType.NS] = "NS"; names[DnsType.CNAME] = "CNAME"; names[DnsType.SOA] = "SOA";
        names[DnsType.PTR] = "PTR"; names[DnsType.MX] = "MX"; names[DnsType.TXT] = "TXT"; names[DnsType.AAAA] = "AAAA";
        names[DnsType.SRV] = "SRV"; names[DnsType.OPT] = "OPT"; names[DnsType.ANY] = "ANY"; names[DnsType.HINFO] = "HINFO";
        names[43] = "DS"; names[46] = "RRSIG"; names[47] = "NSEC"; names[48] = "DNSKEY"; names[50] = "NSEC3";
        names[64] = "SVCB"; names[65] = "HTTPS"; names[99] = "SPF"; names[252] = "AXFR"; names[251] = "IXFR";
        names[35] = "NAPTR"; names[44] = "SSHFP"; names[52] = "TLSA"; names[39] = "DNAME";
        return names;
    }

    /// <summary>The mnemonic for a type, or TYPEnnn as RFC 3597 writes unknown ones.</summary>
    public static string ToText(ushort type)
    {
        if (type == 257) return "CAA";
        if (type < Names.Length && Names[type] is { } name) return name;
        return "TYPE" + type.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public static bool TryParse(string text, out ushort type)
    {
        for (var i = 0; i < Names.Length; i++)
        {
            if (Names[i] is { } name && string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                type = (ushort)i;
                return true;
            }
        }
        if (string.Equals(text, "CAA", StringComparison.OrdinalIgnoreCase)) { type = 257; return true; }
        if (text.StartsWith("TYPE", StringComparison.OrdinalIgnoreCase) && ushort.TryParse(text.AsSpan(4), out type)) return true;
        type = 0;
        return false;
    }
}
