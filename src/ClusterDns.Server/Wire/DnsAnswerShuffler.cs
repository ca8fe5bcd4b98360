namespace ClusterDns.Server.Wire;

/// <summary>
/// Shuffles the A, AAAA and MX records of an answer section in place (loadbalance round_robin); other records
/// (a CNAME chain ahead of the addresses) keep their places.
/// </summary>
public static class DnsAnswerShuffler
{
    private const int MaxRecords = 64;

    /// <summary>
    /// Moving records is only safe when no compression pointer in the message leads into the records that move
    /// (our own answers point only at the question; upstream answers usually do too).
    /// </summary>
    private static bool IsSafeToMove(ReadOnlySpan<byte> message, int boundary)
    {
        int total = DnsName.ReadUInt16(message, 6) + DnsName.ReadUInt16(message, 8) + DnsName.ReadUInt16(message, 10);
        var position = DnsName.Skip(message, 12) + 4;
        for (var i = 0; i < total; i++)
        {
            if (PointsAtOrBeyond(message, position, boundary)) return false;
            var afterName = DnsName.Skip(message, position);
            if (afterName < 0 || afterName + 10 > message.Length) return false;
            var type = DnsName.ReadUInt16(message, afterName);
            var rdata = afterName + 10;
            var nameInRdata = type switch
            {
                DnsType.CNAME or DnsType.NS or DnsType.PTR => rdata,
                DnsType.MX => rdata + 2,
                DnsType.SRV => rdata + 6,
                _ => -1,
            };
            if (nameInRdata >= 0 && PointsAtOrBeyond(message, nameInRdata, boundary)) return false;
            position = rdata + DnsName.ReadUInt16(message, afterName + 8);
        }
        return true;
    }

    private static bool PointsAtOrBeyond(ReadOnlySpan<byte> message, int offset, int boundary)
    {
        var position = offset;
        while (position < message.Length && message[position] != 0)
        {
            if ((message[position] & 0xC0) == 0xC0)
            {
                return position + 1 >= message.Length || (((message[position] & 0x3F) << 8) | message[position + 1]) >= boundary;
            }
            position += 1 + message[position];
        }
        return false;
    }

    public static void Shuffle(Span<byte> message, Random random)
    {
        int answers = DnsName.ReadUInt16(message, 6);
        if (answers < 2) return;
        var position = DnsName.Skip(message, 12);
        if (position < 0) return;
        position += 4;
        var count = Math.Min(answers, MaxRecords);
        Span<int> starts = stackalloc int[count];
        Span<int> lengths = stackalloc int[count];
        Span<int> movable = stackalloc int[count];
        var movableCount = 0;
        var sectionStart = position;
        for (var i = 0; i < count; i++)
        {
            var afterName = DnsName.Skip(message, position);
            if (afterName < 0 || afterName + 10 > message.Length) return;
            var end = afterName + 10 + DnsName.ReadUInt16(message, afterName + 8);
            if (end > message.Length) return;
            starts[i] = position;
            lengths[i] = end - position;
            var type = DnsName.ReadUInt16(message, afterName);
            if (type is DnsType.A or DnsType.AAAA or DnsType.MX) movable[movableCount++] = i;
            position = end;
        }
        if (movableCount < 2 || !IsSafeToMove(message, starts[movable[0]])) return;
        Span<int> order = stackalloc int[count];
        for (var i = 0; i < count; i++) order[i] = i;
        for (var i = movableCount - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[movable[i]], order[movable[j]]) = (order[movable[j]], order[movable[i]]);
        }
        var sectionLength = position - sectionStart;
        Span<byte> copy = sectionLength <= 4096 ? stackalloc byte[sectionLength] : new byte[sectionLength];
        message.Slice(sectionStart, sectionLength).CopyTo(copy);
        var write = sectionStart;
        for (var i = 0; i < count; i++)
        {
            var source = order[i];
            copy.Slice(starts[source] - sectionStart, lengths[source]).CopyTo(message[write..]);
            write += lengths[source];
        }
    }
}
