using System.Buffers.Binary;
using System.Text;

namespace ClusterDns.Server.Wire;

/// <summary>
/// Domain names in wire form (length-prefixed labels ending in a zero byte), read and compared on spans
/// so the query path never builds a string.
/// </summary>
public static class DnsName
{
    public const int MaxWireLength = 255;
    public const int MaxLabelLength = 63;

    /// <summary>The root name in wire form.</summary>
    public static ReadOnlySpan<byte> Root => [0];

    /// <summary>
    /// Reads a possibly compressed name at <paramref name="offset"/> and writes it uncompressed and lower-cased to
    /// <paramref name="destination"/> (at least 255 bytes). Pointers must point backwards, so a pointer loop cannot
    /// hang the reader; labels over 63 bytes, names over 255 bytes and reserved label types are rejected.
    /// </summary>
    /// <param name="next">The offset just after the name in the message (after the first pointer, if any).</param>
    public static bool TryRead(ReadOnlySpan<byte> message, int offset, Span<byte> destination, out int length, out int next, bool lowerCase = true)
    {
        length = 0;
        next = -1;
        var position = offset;
        var limit = offset; // a pointer must go strictly before the place it was read from
        while (true)
        {
            if ((uint)position >= (uint)message.Length) return false;
            var labelLength = message[position];
            if (labelLength == 0)
            {
                if (next < 0) next = position + 1;
                if (length + 1 > MaxWireLength) return false;
                destination[length++] = 0;
                return true;
            }
            switch (labelLength & 0xC0)
            {
                case 0xC0:
                    if (position + 1 >= message.Length) return false;
                    var target = ((labelLength & 0x3F) << 8) | message[position + 1];
                    if (next < 0) next = position + 2;
                    if (target >= limit) return false;
                    limit = target;
                    position = target;
                    continue;
                case 0x00:
                    break;
                default:
                    return false;
            }
            if (position + 1 + labelLength > message.Length) return false;
            if (length + 1 + labelLength + 1 > MaxWireLength) return false;
            destination[length] = labelLength;
            var label = message.Slice(position + 1, labelLength);
            var target2 = destination.Slice(length + 1, labelLength);
            if (lowerCase) Ascii.ToLower(label, target2, out _); else label.CopyTo(target2);
            length += 1 + labelLength;
            position += 1 + labelLength;
        }
    }

    /// <summary>Skips a name without decoding it; returns the offset after it, or -1 if it runs past the message.</summary>
    public static int Skip(ReadOnlySpan<byte> message, int offset)
    {
        var position = offset;
        while (true)
        {
            if ((uint)position >= (uint)message.Length) return -1;
            var labelLength = message[position];
            if (labelLength == 0) return position + 1;
            if ((labelLength & 0xC0) == 0xC0) return position + 2 <= message.Length ? position + 2 : -1;
            if ((labelLength & 0xC0) != 0) return -1;
            position += 1 + labelLength;
        }
    }

    /// <summary>Whether <paramref name="name"/> equals <paramref name="zone"/> or lies below it (both lower-case wire form).</summary>
    public static bool IsSubdomain(ReadOnlySpan<byte> name, ReadOnlySpan<byte> zone)
    {
        if (zone.Length > name.Length) return false;
        var position = 0;
        while (true)
        {
            if (name.Length - position == zone.Length) return name[position..].SequenceEqual(zone);
            if (name.Length - position < zone.Length || name[position] == 0) return false;
            position += 1 + name[position];
        }
    }

    /// <summary>The number of labels in a wire name (the root has none).</summary>
    public static int CountLabels(ReadOnlySpan<byte> name)
    {
        var count = 0;
        for (var position = 0; position < name.Length && name[position] != 0; position += 1 + name[position]) count++;
        return count;
    }

    /// <summary>Encodes a presentation name (<c>www.example.org</c> or with the trailing dot) as lower-case wire bytes.</summary>
    public static byte[] Encode(string name, bool lowerCase = true)
    {
        Span<byte> buffer = stackalloc byte[MaxWireLength + 1];
        var length = Encode(name, buffer, lowerCase);
        return buffer[..length].ToArray();
    }

    /// <summary>Encodes a presentation name into <paramref name="destination"/>; \DDD and \X escapes are honoured.</summary>
    public static int Encode(ReadOnlySpan<char> name, Span<byte> destination, bool lowerCase = true)
    {
        if (name.Length == 0 || name is ".")
        {
            destination[0] = 0;
            return 1;
        }
        var length = 0;
        var labelStart = 0;
        destination[0] = 0;
        var position = 1;
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (c == '.')
            {
                if (length == 0 && i != name.Length - 1) throw new FormatException($"empty label in '{name}'");
                if (length == 0) break;
                destination[labelStart] = (byte)length;
                labelStart = position++;
                length = 0;
                continue;
            }
            byte b;
            if (c == '\\' && i + 1 < name.Length)
            {
                if (i + 3 < name.Length && char.IsAsciiDigit(name[i + 1]) && char.IsAsciiDigit(name[i + 2]) && char.IsAsciiDigit(name[i + 3]))
                {
                    b = (byte)int.Parse(name.Slice(i + 1, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
                    i += 3;
                }
                else
                {
                    b = (byte)name[++i];
                }
            }
            else
            {
                if (c > 0x7F) throw new FormatException($"non-ASCII character in '{name}'");
                b = (byte)c;
            }
            if (lowerCase && b is >= (byte)'A' and <= (byte)'Z') b = (byte)(b + 32);
            if (++length > MaxLabelLength) throw new FormatException($"label longer than 63 bytes in '{name}'");
            if (position >= MaxWireLength) throw new FormatException($"name longer than 255 bytes: '{name}'");
            destination[position++] = b;
        }
        if (length > 0)
        {
            destination[labelStart] = (byte)length;
            destination[position++] = 0;
        }
        else
        {
            destination[labelStart] = 0;
            position = labelStart + 1;
        }
        return position;
    }

    /// <summary>The presentation form with a trailing dot; bytes outside printable ASCII and dots inside labels are escaped.</summary>
    public static string ToText(ReadOnlySpan<byte> name)
    {
        if (name.Length <= 1) return ".";
        var builder = new StringBuilder(name.Length + 1);
        for (var position = 0; position < name.Length && name[position] != 0; position += 1 + name[position])
        {
            foreach (var b in name.Slice(position + 1, name[position]))
            {
                if (b is (byte)'.' or (byte)'\\' or (byte)'"' or (byte)'(' or (byte)')' or (byte)';' or (byte)' ' or (byte)'@' or (byte)'$') builder.Append('\\').Append((char)b);
                else if (b is < 0x21 or > 0x7E) builder.Append('\\').Append(b.ToString("D3", System.Globalization.CultureInfo.InvariantCulture));
                else builder.Append((char)b);
            }
            builder.Append('.');
        }
        return builder.ToString();
    }

    /// <summary>Normalises a presentation name to lower case with exactly one trailing dot.</summary>
    public static string Normalize(string name) => ToText(Encode(name));

    /// <summary>Reads a big-endian 16-bit value.</summary>
    public static ushort ReadUInt16(ReadOnlySpan<byte> span, int offset) => BinaryPrimitives.ReadUInt16BigEndian(span[offset..]);
}
