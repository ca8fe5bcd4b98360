using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace ClusterDns.LoadCheck;

/// <summary>Just enough DNS wire format to build a query and read a response's rcode, question and addresses.</summary>
internal static class DnsWire
{
    public static byte[] BuildQuery(string name, ushort type)
    {
        var buffer = new List<byte>(64) { 0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 }; // RD, one question
        foreach (var label in name.TrimEnd('.').Split('.'))
        {
            var bytes = Encoding.ASCII.GetBytes(label);
            buffer.Add((byte)bytes.Length);
            buffer.AddRange(bytes);
        }
        buffer.Add(0);
        buffer.Add((byte)(type >> 8));
        buffer.Add((byte)type);
        buffer.Add(0);
        buffer.Add(1); // IN
        return buffer.ToArray();
    }

    /// <summary>
    /// Whether the response carries the question sent, so a late answer to an ID reused for another name is never
    /// counted against the wrong query.
    /// </summary>
    public static bool QuestionMatches(ReadOnlySpan<byte> message, ReadOnlySpan<byte> sentQuery)
    {
        var question = sentQuery[12..];
        return message.Length >= 12 + question.Length
            && BinaryPrimitives.ReadUInt16BigEndian(message[4..]) == 1
            && Ascii.EqualsIgnoreCase(message.Slice(12, question.Length), question);
    }

    /// <summary>Reads a response whose question matched: false when it is not a response, truncated, or malformed.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, ushort type, out AnswerSet answer)
    {
        answer = new AnswerSet(-1, []);
        if ((message[2] & 0x80) == 0 || (message[2] & 0x02) != 0) return false;
        int rcode = message[3] & 0x0F;
        int answers = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int offset = 12;
        if (!TrySkipName(message, ref offset)) return false;
        offset += 4;
        var addresses = new List<string>(answers);
        for (int i = 0; i < answers; i++)
        {
            if (!TrySkipName(message, ref offset) || offset + 10 > message.Length) return false;
            ushort rrType = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
            offset += 10;
            if (offset + length > message.Length) return false;
            if (rrType == type && (length == 4 || length == 16))
                addresses.Add(new IPAddress(message.Slice(offset, length)).ToString());
            else
                addresses.Add($"type{rrType}");
            offset += length;
        }
        addresses.Sort(StringComparer.Ordinal);
        answer = new AnswerSet(rcode, addresses.ToArray());
        return true;
    }

    private static bool TrySkipName(ReadOnlySpan<byte> message, ref int offset)
    {
        while (offset < message.Length)
        {
            byte length = message[offset];
            if (length == 0) { offset++; return true; }
            if ((length & 0xC0) == 0xC0) { offset += 2; return offset <= message.Length; }
            offset += 1 + length;
        }
        return false;
    }
}
