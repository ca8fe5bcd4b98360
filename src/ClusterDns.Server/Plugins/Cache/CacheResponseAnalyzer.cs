using System.Buffers.Binary;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Cache;

/// <summary>What a response is to the cache (CoreDNS's response.Typify).</summary>
public enum CacheResponseKind { Uncacheable, Success, Denial, ServerFailure }

/// <summary>
/// Reads a response once when it is stored: its kind, the TTL it may live (the smallest record TTL; the SOA minimum
/// for negative answers), where the TTLs are, and the bytes to keep (the OPT removed: the transport adds its own).
/// </summary>
public static class CacheResponseAnalyzer
{
    /// <summary>CoreDNS's failSafeTTL, for answers without any record to take a TTL from.</summary>
    public const uint FailSafeTtl = 5;

    public readonly record struct Result(CacheResponseKind Kind, uint MinTtl, byte[] Message, int[] TtlOffsets);

    public static Result Analyze(ReadOnlySpan<byte> response, int questionLength)
    {
        var none = new Result(CacheResponseKind.Uncacheable, 0, [], []);
        if (response.Length < 12) return none;
        var flags = DnsName.ReadUInt16(response, 2);
        if ((flags & 0x0200) != 0) return none; // truncated
        if (DnsName.ReadUInt16(response, 4) != 1) return none;
        var questionEnd = DnsName.Skip(response, 12);
        if (questionEnd < 0) return none;
        questionEnd += 4;
        // A hit writes the client's question over the stored one: only possible when it is uncompressed and the same size.
        if (questionEnd - 12 != questionLength || questionEnd > response.Length) return none;
        int answers = DnsName.ReadUInt16(response, 6), authorities = DnsName.ReadUInt16(response, 8), additionals = DnsName.ReadUInt16(response, 10);
        var total = answers + authorities + additionals;
        var offsets = new int[total];
        var offsetCount = 0;
        int optStart = -1, optEnd = -1;
        var min = uint.MaxValue;
        bool hasSoa = false, hasNs = false;
        var position = questionEnd;
        var rcode = flags & 0x0F;
        for (var i = 0; i < total; i++)
        {
            var afterName = DnsName.Skip(response, position);
            if (afterName < 0 || afterName + 10 > response.Length) return none;
            var type = DnsName.ReadUInt16(response, afterName);
            var ttl = BinaryPrimitives.ReadUInt32BigEndian(response[(afterName + 4)..]);
            var end = afterName + 10 + DnsName.ReadUInt16(response, afterName + 8);
            if (end > response.Length) return none;
            var inAuthority = i >= answers && i < answers + authorities;
            if (type == DnsType.OPT && i >= answers + authorities)
            {
                if (optStart >= 0) return none;
                optStart = position;
                optEnd = end;
            }
            else
            {
                offsets[offsetCount++] = afterName + 4;
                if (inAuthority && type == DnsType.SOA)
                {
                    hasSoa = true;
                    if (end - 4 >= afterName + 10 && (rcode == DnsRcode.NxDomain || answers == 0))
                    {
                        ttl = Math.Min(ttl, BinaryPrimitives.ReadUInt32BigEndian(response[(end - 4)..]));
                    }
                }
                if (inAuthority && type == DnsType.NS) hasNs = true;
                min = Math.Min(min, ttl);
            }
            position = end;
        }
        if (position != response.Length) return none;

        var kind = rcode switch
        {
            DnsRcode.NoError when answers > 0 => CacheResponseKind.Success,
            DnsRcode.NoError when hasNs && !hasSoa => CacheResponseKind.Success, // a delegation
            DnsRcode.NoError => CacheResponseKind.Denial,
            DnsRcode.NxDomain => CacheResponseKind.Denial,
            DnsRcode.ServFail => CacheResponseKind.ServerFailure,
            _ => CacheResponseKind.Uncacheable,
        };
        if (kind == CacheResponseKind.Uncacheable) return none;
        if (offsetCount == 0) min = FailSafeTtl;

        byte[] message;
        if (optStart < 0)
        {
            message = response.ToArray();
        }
        else
        {
            // Records after the OPT could hold pointers past it; only a trailing OPT is cut out.
            if (optEnd != response.Length) return none;
            message = response[..optStart].ToArray();
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(10), (ushort)(additionals - 1));
        }
        return new Result(kind, min, message, offsetCount == offsets.Length ? offsets : offsets[..offsetCount]);
    }
}
