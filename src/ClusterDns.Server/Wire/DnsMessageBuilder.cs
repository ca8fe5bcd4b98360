using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Server.Wire;

/// <summary>
/// Writes a response into a caller's buffer without allocating: header from the query, the question copied as the
/// client sent it (so its letter case is echoed), then records section by section. Record owners may be the
/// question's name by pointer (<see cref="QuestionNamePointer"/>), which also echoes the client's case.
/// </summary>
public ref struct DnsMessageBuilder
{
    /// <summary>A compression pointer to the question name, which always starts at offset 12.</summary>
    public static ReadOnlySpan<byte> QuestionNamePointer => [0xC0, 0x0C];

    private readonly Span<byte> _buffer;
    private int _position;
    private ushort _answers, _authorities, _additionals;
    private DnsSection _section;
    private readonly bool _questionIsRoot;

    /// <summary>Starts a response to <paramref name="request"/> with the given rcode.</summary>
    public DnsMessageBuilder(Span<byte> buffer, DnsRequestContext request, int rcode, bool authoritative)
    {
        _buffer = buffer;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, request.Id);
        var flags = 0x8000 | (request.Opcode << 11) | (rcode & 0xF);
        if (authoritative) flags |= 0x0400;
        if (request.RecursionDesired) flags |= 0x0100;
        if (request.CheckingDisabled) flags |= 0x0010;
        flags |= 0x0080; // RA: we resolve through forward, as CoreDNS always sets it
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)flags);
        var question = request.Question;
        BinaryPrimitives.WriteUInt16BigEndian(buffer[4..], (ushort)(question.Length > 0 ? 1 : 0));
        buffer.Slice(6, 6).Clear();
        question.CopyTo(buffer[12..]);
        _position = 12 + question.Length;
        _section = DnsSection.Answer;
        _questionIsRoot = request.QNameLength == 1;
    }

    public readonly int Length => _position;
    public readonly Span<byte> Written => _buffer[.._position];

    /// <summary>Moves on to a later section; records must be added in section order.</summary>
    public void StartSection(DnsSection section)
    {
        if (section < _section) throw new InvalidOperationException("records must be added in section order");
        _section = section;
    }

    /// <summary>Appends pre-encoded records (whose names are absolute or point at offset 12) to the current section.</summary>
    public void AppendRecords(scoped ReadOnlySpan<byte> records, int count)
    {
        records.CopyTo(_buffer[_position..]);
        _position += records.Length;
        Count(count);
    }

    /// <summary>Appends one record; <paramref name="owner"/> is a wire name or <see cref="QuestionNamePointer"/>.</summary>
    public void AppendRecord(scoped ReadOnlySpan<byte> owner, ushort type, uint ttl, scoped ReadOnlySpan<byte> rdata, ushort @class = DnsClass.IN)
    {
        // A pointer to a bare root label is legal but longer than the root itself, and some parsers reject it.
        if (_questionIsRoot && owner.SequenceEqual(QuestionNamePointer)) owner = DnsName.Root;
        _position += DnsRecordEncoder.Write(_buffer[_position..], owner, type, @class, ttl, rdata);
        Count(1);
    }

    /// <summary>Appends an OPT record advertising <paramref name="udpSize"/> with the DO bit as given.</summary>
    public void AppendOpt(ushort udpSize, bool dnssecOk)
    {
        _section = DnsSection.Additional;
        _position += DnsRecordEncoder.WriteOpt(_buffer[_position..], udpSize, dnssecOk);
        Count(1);
    }

    private void Count(int count)
    {
        switch (_section)
        {
            case DnsSection.Answer: _answers += (ushort)count; break;
            case DnsSection.Authority: _authorities += (ushort)count; break;
            default: _additionals += (ushort)count; break;
        }
    }

    /// <summary>Writes the section counts into the header and returns the message length.</summary>
    public int Finish()
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[6..], _answers);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[8..], _authorities);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[10..], _additionals);
        return _position;
    }
}

public enum DnsSection : byte { Answer, Authority, Additional }

/// <summary>Encodes single records to wire bytes; used at build time for precomputed answers and by the builder.</summary>
public static class DnsRecordEncoder
{
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> owner, ushort type, ushort @class, uint ttl, ReadOnlySpan<byte> rdata)
    {
        owner.CopyTo(destination);
        var position = owner.Length;
        BinaryPrimitives.WriteUInt16BigEndian(destination[position..], type);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 2)..], @class);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(position + 4)..], ttl);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 8)..], (ushort)rdata.Length);
        rdata.CopyTo(destination[(position + 10)..]);
        return position + 10 + rdata.Length;
    }

    public static int WriteOpt(Span<byte> destination, ushort udpSize, bool dnssecOk)
    {
        destination[0] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[1..], DnsType.OPT);
        BinaryPrimitives.WriteUInt16BigEndian(destination[3..], udpSize);
        destination[5] = 0; // extended rcode
        destination[6] = 0; // version
        destination[7] = dnssecOk ? (byte)0x80 : (byte)0;
        destination[8] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[9..], 0);
        return 11;
    }

    /// <summary>One record as a new array: for answers computed once and served many times.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> owner, ushort type, uint ttl, ReadOnlySpan<byte> rdata)
    {
        var bytes = new byte[owner.Length + 10 + rdata.Length];
        Write(bytes, owner, type, DnsClass.IN, ttl, rdata);
        return bytes;
    }

    public static byte[] AddressData(IPAddress address) => address.GetAddressBytes();

    public static ushort AddressType(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? DnsType.AAAA : DnsType.A;

    /// <summary>SOA rdata: mname, rname, serial, refresh, retry, expire, minimum.</summary>
    public static byte[] SoaData(ReadOnlySpan<byte> mname, ReadOnlySpan<byte> rname, uint serial, uint refresh, uint retry, uint expire, uint minimum)
    {
        var bytes = new byte[mname.Length + rname.Length + 20];
        mname.CopyTo(bytes);
        rname.CopyTo(bytes.AsSpan(mname.Length));
        var span = bytes.AsSpan(mname.Length + rname.Length);
        BinaryPrimitives.WriteUInt32BigEndian(span, serial);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], refresh);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], retry);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], expire);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], minimum);
        return bytes;
    }

    /// <summary>SRV rdata: priority, weight, port, target.</summary>
    public static byte[] SrvData(ushort priority, ushort weight, ushort port, ReadOnlySpan<byte> target)
    {
        var bytes = new byte[6 + target.Length];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, priority);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), weight);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), port);
        target.CopyTo(bytes.AsSpan(6));
        return bytes;
    }

    /// <summary>TXT rdata from one or more strings, each at most 255 bytes.</summary>
    public static byte[] TxtData(params string[] strings)
    {
        var length = 0;
        foreach (var s in strings) length += 1 + Math.Min(255, s.Length);
        var bytes = new byte[length];
        var position = 0;
        foreach (var s in strings)
        {
            var count = Math.Min(255, s.Length);
            bytes[position++] = (byte)count;
            for (var i = 0; i < count; i++) bytes[position++] = (byte)s[i];
        }
        return bytes;
    }
}
