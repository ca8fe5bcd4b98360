namespace ClusterDns.Server.Wire;

/// <summary>
/// Reorders the records of one section of a finished message in place (loadbalance): the round_robin shuffle of A,
/// AAAA and MX records, and moving one chosen record to the front of the addresses (weighted). Records that do not
/// move (a CNAME chain ahead of the addresses) keep their places.
/// </summary>
public static class DnsAnswerShuffler
{
    public const int MaxRecords = 64;
    public const int AnswerSection = 0, AdditionalSection = 2;

    /// <summary>The records of one section: where each starts and how long it is; count -1 when the message is malformed.</summary>
    public ref struct Section
    {
        public int Start;
        public int Count;
        public Span<int> Starts;
        public Span<int> Lengths;
    }

    /// <summary>Finds the records of <paramref name="section"/> (0 answer, 1 authority, 2 additional), at most <see cref="MaxRecords"/>.</summary>
    public static void Read(ReadOnlySpan<byte> message, int section, ref Section result)
    {
        result.Count = -1;
        if (message.Length < 12) return;
        var position = DnsName.Skip(message, 12);
        if (position < 0) return;
        position += 4;
        for (var s = 0; s <= section; s++)
        {
            int records = DnsName.ReadUInt16(message, 6 + 2 * s);
            if (s == section)
            {
                result.Start = position;
                records = Math.Min(records, Math.Min(MaxRecords, result.Starts.Length));
            }
            for (var i = 0; i < records; i++)
            {
                var afterName = DnsName.Skip(message, position);
                if (afterName < 0 || afterName + 10 > message.Length) return;
                var end = afterName + 10 + DnsName.ReadUInt16(message, afterName + 8);
                if (end > message.Length) return;
                if (s == section)
                {
                    result.Starts[i] = position;
                    result.Lengths[i] = end - position;
                }
                position = end;
            }
            if (s == section) result.Count = records;
        }
    }

    /// <summary>The type of record <paramref name="index"/> of a section read with <see cref="Read"/>.</summary>
    public static ushort TypeOf(ReadOnlySpan<byte> message, in Section section, int index) =>
        DnsName.ReadUInt16(message, DnsName.Skip(message, section.Starts[index]));

    /// <summary>The RDATA of record <paramref name="index"/> of a section read with <see cref="Read"/>.</summary>
    public static ReadOnlySpan<byte> DataOf(ReadOnlySpan<byte> message, in Section section, int index)
    {
        var afterName = DnsName.Skip(message, section.Starts[index]);
        return message.Slice(afterName + 10, DnsName.ReadUInt16(message, afterName + 8));
    }

    public static void Shuffle(Span<byte> message, Random random)
    {
        var section = new Section { Starts = stackalloc int[MaxRecords], Lengths = stackalloc int[MaxRecords] };
        Read(message, AnswerSection, ref section);
        if (section.Count < 2) return;
        Span<int> movable = stackalloc int[section.Count];
        var movableCount = 0;
        for (var i = 0; i < section.Count; i++)
        {
            if (TypeOf(message, section, i) is DnsType.A or DnsType.AAAA or DnsType.MX) movable[movableCount++] = i;
        }
        if (movableCount < 2 || !IsSafeToMove(message, section.Starts[movable[0]])) return;
        Span<int> order = stackalloc int[section.Count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        for (var i = movableCount - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[movable[i]], order[movable[j]]) = (order[movable[j]], order[movable[i]]);
        }
        Rewrite(message, section, order);
    }

    /// <summary>Swaps record <paramref name="chosen"/> with record <paramref name="first"/> (first &lt; chosen) of the section.</summary>
    public static void Swap(Span<byte> message, in Section section, int first, int chosen)
    {
        if (first == chosen || !IsSafeToMove(message, section.Starts[first])) return;
        Span<int> order = stackalloc int[section.Count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        (order[first], order[chosen]) = (chosen, first);
        Rewrite(message, section, order);
    }

    /// <summary>Writes the section's records back in <paramref name="order"/> (order[i] = the record that goes to place i).</summary>
    private static void Rewrite(Span<byte> message, in Section section, ReadOnlySpan<int> order)
    {
        var sectionLength = section.Starts[section.Count - 1] + section.Lengths[section.Count - 1] - section.Start;
        Span<byte> copy = sectionLength <= 4096 ? stackalloc byte[sectionLength] : new byte[sectionLength];
        message.Slice(section.Start, sectionLength).CopyTo(copy);
        var write = section.Start;
        for (var i = 0; i < section.Count; i++)
        {
            var source = order[i];
            copy.Slice(section.Starts[source] - section.Start, section.Lengths[source]).CopyTo(message[write..]);
            write += section.Lengths[source];
        }
    }

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
}
