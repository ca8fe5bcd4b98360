using System.Buffers.Binary;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.AutoPath;

/// <summary>
/// The answer autopath sends for the name the client asked when another search-path name had the answer: the
/// client's question as it sent it, a CNAME from it to the found name, then every record of the found name's reply.
/// Those records are copied with their names written out in full, since the compression pointers of the reply
/// point into a message of another layout.
/// </summary>
public static class AutoPathAnswer
{
    private const int NameRoom = DnsName.MaxWireLength + 1;

    /// <summary>
    /// Writes the answer into <paramref name="output"/>; returns its length, or -1 when <paramref name="found"/> is
    /// malformed or the answer would not fit.
    /// </summary>
    public static int Write(DnsRequestContext request, Span<byte> output, ReadOnlySpan<byte> found, ReadOnlySpan<byte> target)
    {
        if (found.Length < 12) return -1;
        int answers = DnsName.ReadUInt16(found, 6), authorities = DnsName.ReadUInt16(found, 8), additionals = DnsName.ReadUInt16(found, 10);
        var position = DnsName.Skip(found, 12);
        if (position < 0 || position + 4 > found.Length) return -1;
        position += 4;
        if (!TryFirstTtl(found, position, answers + authorities, out var cnameTtl)) return -1;

        var builder = new DnsMessageBuilder(output, request, found[3] & 0x0F, authoritative: (found[2] & 0x04) != 0);
        builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, DnsType.CNAME, cnameTtl, target);
        var length = builder.Finish();
        Span<ushort> counts = [1, 0, 0]; // the CNAME
        var total = answers + authorities + additionals;
        for (var i = 0; i < total; i++)
        {
            var section = i < answers ? 0 : i < answers + authorities ? 1 : 2;
            var written = CopyRecord(found, ref position, output[length..], out var isOpt);
            if (written < 0) return -1;
            if (isOpt) continue; // the transport writes the client's OPT
            length += written;
            counts[section]++;
        }
        BinaryPrimitives.WriteUInt16BigEndian(output[6..], counts[0]);
        BinaryPrimitives.WriteUInt16BigEndian(output[8..], counts[1]);
        BinaryPrimitives.WriteUInt16BigEndian(output[10..], counts[2]);
        return length;
    }

    /// <summary>A question-only answer with TC set: the client asks again over TCP, where nothing is cut.</summary>
    public static int WriteTruncated(DnsRequestContext request, Span<byte> output)
    {
        var builder = new DnsMessageBuilder(output, request, DnsRcode.NoError, authoritative: false);
        var length = builder.Finish();
        output[2] |= 0x02;
        return length;
    }

    /// <summary>The CNAME lives as long as the first record it leads to (the SOA of a NODATA answer), as CoreDNS's.</summary>
    private static bool TryFirstTtl(ReadOnlySpan<byte> message, int position, int records, out uint ttl)
    {
        ttl = 0;
        if (records == 0) return true;
        var afterName = DnsName.Skip(message, position);
        if (afterName < 0 || afterName + 10 > message.Length) return false;
        ttl = BinaryPrimitives.ReadUInt32BigEndian(message[(afterName + 4)..]);
        return true;
    }

    private static int CopyRecord(ReadOnlySpan<byte> message, ref int position, Span<byte> output, out bool isOpt)
    {
        isOpt = false;
        if (output.Length < NameRoom + 10) return -1;
        if (!DnsName.TryRead(message, position, output, out var ownerLength, out var afterName, lowerCase: false)) return -1;
        if (afterName + 10 > message.Length) return -1;
        var type = DnsName.ReadUInt16(message, afterName);
        var rdLength = DnsName.ReadUInt16(message, afterName + 8);
        var rdStart = afterName + 10;
        var rdEnd = rdStart + rdLength;
        if (rdEnd > message.Length) return -1;
        position = rdEnd;
        if (type == DnsType.OPT)
        {
            isOpt = true;
            return 0;
        }
        message.Slice(afterName, 8).CopyTo(output[ownerLength..]); // type, class, TTL
        var rdOut = ownerLength + 10;
        // Room for the rdata with up to two names written out in full.
        if (output.Length < rdOut + rdLength + 2 * NameRoom) return -1;
        var rdata = output[rdOut..];
        int written;
        switch (type)
        {
            case DnsType.NS or DnsType.CNAME or DnsType.PTR:
                written = ExpandNames(message, rdStart, 0, 1, rdata);
                break;
            case DnsType.MX:
                written = ExpandNames(message, rdStart, 2, 1, rdata);
                break;
            case DnsType.SRV:
                written = ExpandNames(message, rdStart, 6, 1, rdata);
                break;
            case DnsType.SOA:
                written = ExpandNames(message, rdStart, 0, 2, rdata);
                if (written >= 0)
                {
                    var tail = DnsName.Skip(message, DnsName.Skip(message, rdStart));
                    if (tail < 0 || tail + 20 != rdEnd) return -1;
                    message.Slice(tail, 20).CopyTo(rdata[written..]);
                    written += 20;
                }
                break;
            default:
                message.Slice(rdStart, rdLength).CopyTo(rdata);
                written = rdLength;
                break;
        }
        if (written < 0) return -1;
        BinaryPrimitives.WriteUInt16BigEndian(output[(ownerLength + 8)..], (ushort)written);
        return rdOut + written;
    }

    /// <summary>Copies <paramref name="fixedBytes"/> of rdata, then <paramref name="names"/> names written out in full.</summary>
    private static int ExpandNames(ReadOnlySpan<byte> message, int rdStart, int fixedBytes, int names, Span<byte> rdata)
    {
        if (rdStart + fixedBytes > message.Length) return -1;
        message.Slice(rdStart, fixedBytes).CopyTo(rdata);
        var written = fixedBytes;
        var position = rdStart + fixedBytes;
        for (var i = 0; i < names; i++)
        {
            if (!DnsName.TryRead(message, position, rdata[written..], out var length, out position, lowerCase: false)) return -1;
            written += length;
        }
        return written;
    }
}
