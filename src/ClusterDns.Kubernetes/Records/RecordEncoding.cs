using System.Globalization;
using System.Net;
using ClusterDns.Server.Wire;

namespace ClusterDns.Kubernetes.Records;

/// <summary>Build-time encoding of names and records; nothing here runs per query.</summary>
internal static class RecordEncoding
{
    public static byte[] Name(string presentation) => DnsName.Encode(presentation);

    /// <summary>A wire name of labels followed by an already encoded suffix (<paramref name="suffix"/> ends in the root).</summary>
    public static byte[] Name(ReadOnlySpan<byte> suffix, params ReadOnlySpan<string> labels)
    {
        var length = suffix.Length;
        foreach (var label in labels) length += 1 + label.Length;
        var bytes = new byte[length];
        var position = 0;
        foreach (var label in labels)
        {
            if (label.Length is 0 or > DnsName.MaxLabelLength) throw new FormatException($"bad label '{label}'");
            bytes[position++] = (byte)label.Length;
            for (var i = 0; i < label.Length; i++)
            {
                var c = label[i];
                bytes[position++] = (byte)(c is >= 'A' and <= 'Z' ? c + 32 : c);
            }
        }
        suffix.CopyTo(bytes.AsSpan(position));
        if (bytes.Length > DnsName.MaxWireLength) throw new FormatException("name too long");
        return bytes;
    }

    public static ushort AddressType(byte[] address) => address.Length == 16 ? DnsType.AAAA : DnsType.A;

    /// <summary>A record whose owner is the query name (echoing the client's letter case).</summary>
    public static byte[] AtQuestion(ushort type, uint ttl, ReadOnlySpan<byte> rdata) =>
        DnsRecordEncoder.Encode(DnsMessageBuilder.QuestionNamePointer, type, ttl, rdata);

    public static byte[] At(ReadOnlySpan<byte> owner, ushort type, uint ttl, ReadOnlySpan<byte> rdata) =>
        DnsRecordEncoder.Encode(owner, type, ttl, rdata);

    /// <summary>The dashed form CoreDNS uses for an endpoint without hostname: 10-244-1-10, fd00-10-244-1--30.</summary>
    public static string Dashed(byte[] address) => address.Length == 16
        ? new IPAddress(address).ToString().Replace(':', '-')
        : string.Create(CultureInfo.InvariantCulture, $"{address[0]}-{address[1]}-{address[2]}-{address[3]}");

    /// <summary>The reverse name of an address: d.c.b.a.in-addr.arpa. or the 32 nibbles under ip6.arpa.</summary>
    public static byte[] ReverseName(byte[] address)
    {
        var labels = new List<string>();
        if (address.Length == 4)
        {
            for (var i = 3; i >= 0; i--) labels.Add(address[i].ToString(CultureInfo.InvariantCulture));
            return Name(Name("in-addr.arpa."), [.. labels]);
        }
        for (var i = 15; i >= 0; i--)
        {
            labels.Add((address[i] & 0xF).ToString("x", CultureInfo.InvariantCulture));
            labels.Add((address[i] >> 4).ToString("x", CultureInfo.InvariantCulture));
        }
        return Name(Name("ip6.arpa."), [.. labels]);
    }
}
