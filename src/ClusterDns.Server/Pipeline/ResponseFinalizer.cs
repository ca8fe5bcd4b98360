using System.Buffers.Binary;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Pipeline;

/// <summary>
/// The last step before a response leaves: the query's ID, EDNS as the client asked (an OPT only to clients that
/// sent one), records reordered when loadbalance asked, and over UDP the size limit, beyond which the answer is
/// truncated to its question with TC set so the client retries over TCP.
/// </summary>
public static class ResponseFinalizer
{
    /// <summary>Finishes the message of <paramref name="length"/> bytes at the start of <paramref name="message"/>; returns its new length.</summary>
    public static int Finish(DnsRequestContext request, Span<byte> message, int length, int maxLength, Random random)
    {
        if (length < 12) return length;
        BinaryPrimitives.WriteUInt16BigEndian(message, request.Id);
        length = FixOpt(request, message, length);
        request.AnswerOrder?.Apply(request, message[..length], random);
        if (length > maxLength) length = Truncate(request, message, length);
        return length;
    }

    /// <summary>The largest UDP response this client may get: 512 without EDNS, else its size within the server's limit.</summary>
    public static int UdpLimit(DnsRequestContext request)
    {
        if (!request.HasEdns) return 512;
        var max = request.Zone?.Options.MaxUdpSize ?? 4096;
        return Math.Clamp(request.EdnsUdpSize, 512, Math.Max(512, max));
    }

    private static int FixOpt(DnsRequestContext request, Span<byte> message, int length)
    {
        int answers = DnsName.ReadUInt16(message, 6), authorities = DnsName.ReadUInt16(message, 8), additionals = DnsName.ReadUInt16(message, 10);
        var position = DnsName.Skip(message[..length], 12);
        if (position < 0) return length;
        position += 4;
        int optStart = -1, optEnd = -1;
        var total = answers + authorities + additionals;
        for (var i = 0; i < total; i++)
        {
            var afterName = DnsName.Skip(message[..length], position);
            if (afterName < 0 || afterName + 10 > length) return length;
            var end = afterName + 10 + DnsName.ReadUInt16(message, afterName + 8);
            if (end > length) return length;
            if (DnsName.ReadUInt16(message, afterName) == DnsType.OPT && i >= answers + authorities)
            {
                optStart = position;
                optEnd = end;
            }
            position = end;
        }
        if (request.HasEdns && optStart < 0)
        {
            var advertised = request.Zone?.Options.AdvertisedUdpSize ?? 1232;
            length += DnsRecordEncoder.WriteOpt(message[length..], advertised, request.DnssecOk);
            BinaryPrimitives.WriteUInt16BigEndian(message[10..], (ushort)(additionals + 1));
        }
        else if (!request.HasEdns && optStart >= 0)
        {
            message[optEnd..length].CopyTo(message[optStart..]);
            length -= optEnd - optStart;
            BinaryPrimitives.WriteUInt16BigEndian(message[10..], (ushort)(additionals - 1));
        }
        return length;
    }

    private static int Truncate(DnsRequestContext request, Span<byte> message, int length)
    {
        var questionEnd = DnsName.Skip(message[..length], 12);
        questionEnd = questionEnd < 0 ? 12 : questionEnd + 4;
        message[2] |= 0x02; // TC
        BinaryPrimitives.WriteUInt16BigEndian(message[6..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(message[8..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(message[10..], 0);
        length = questionEnd;
        if (request.HasEdns)
        {
            length += DnsRecordEncoder.WriteOpt(message[length..], request.Zone?.Options.AdvertisedUdpSize ?? 1232, request.DnssecOk);
            BinaryPrimitives.WriteUInt16BigEndian(message[10..], 1);
        }
        return length;
    }

    /// <summary>A response with no records and the given rcode, for queries no plugin answered.</summary>
    public static int WriteError(DnsRequestContext request, Span<byte> buffer, int rcode)
    {
        var builder = new DnsMessageBuilder(buffer, request, rcode, authoritative: false);
        return builder.Finish();
    }

    /// <summary>FORMERR or NOTIMP for a query whose question could not be used: header only, the client's ID kept.</summary>
    public static int WriteHeaderOnly(ReadOnlySpan<byte> query, Span<byte> buffer, int rcode)
    {
        buffer[..12].Clear();
        query[..2].CopyTo(buffer);
        var flags = (ushort)(0x8000 | (DnsName.ReadUInt16(query, 2) & 0x7900) | rcode);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], flags);
        return 12;
    }
}
