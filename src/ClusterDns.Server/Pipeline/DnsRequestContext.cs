using System.Buffers;
using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Pipeline;

public enum DnsTransport : byte { Udp, Tcp }

/// <summary>
/// One query on its way through the pipeline: the raw bytes, the parsed question and EDNS state, where it came from,
/// and what was answered. Instances are pooled and reused, so a plugin must not keep a reference after it returns.
/// </summary>
public sealed class DnsRequestContext : IDisposable
{
    public const int MaxMessageSize = 65535;

    private readonly byte[] _query;
    private readonly byte[] _response;
    private readonly byte[] _name = new byte[DnsName.MaxWireLength + 1];
    private string? _nameText;
    private IPEndPoint? _remoteEndPoint;

    public DnsRequestContext()
    {
        _query = ArrayPool<byte>.Shared.Rent(MaxMessageSize);
        _response = ArrayPool<byte>.Shared.Rent(MaxMessageSize);
    }

    /// <summary>The buffer the transport receives the query into.</summary>
    public byte[] QueryBuffer => _query;
    public int QueryLength { get; private set; }
    public ReadOnlySpan<byte> Query => _query.AsSpan(0, QueryLength);

    /// <summary>A scratch buffer for building the response (64 KiB), owned by this request.</summary>
    public Span<byte> ResponseBuffer => _response;

    public ushort Id { get; private set; }
    public byte Opcode { get; private set; }
    public bool RecursionDesired { get; private set; }
    public bool CheckingDisabled { get; private set; }
    public ushort QType { get; private set; }
    public ushort QClass { get; private set; }
    /// <summary>Offset just after the question in <see cref="Query"/>.</summary>
    public int QuestionEnd { get; private set; }
    /// <summary>The question's name, uncompressed and lower-cased, in wire form.</summary>
    public ReadOnlySpan<byte> QName => _name.AsSpan(0, QNameLength);
    public int QNameLength { get; private set; }
    /// <summary>The question exactly as the client sent it (name in its own letter case, type, class).</summary>
    public ReadOnlySpan<byte> Question => _query.AsSpan(12, QuestionEnd - 12);

    public bool HasEdns { get; private set; }
    public ushort EdnsUdpSize { get; private set; }
    public byte EdnsVersion { get; private set; }
    public bool DnssecOk { get; private set; }

    public DnsTransport Transport { get; private set; }
    public AddressFamily Family { get; private set; }
    /// <summary>The client's address in socket form; reused by the transport, never converted on the hot path.</summary>
    public SocketAddress? RemoteSocketAddress { get; private set; }
    public int LocalPort { get; private set; }

    /// <summary>The server block zone that took this query (set by the router).</summary>
    public ServerZone? Zone { get; set; }
    public long StartTimestamp { get; private set; }

    /// <summary>Name of the plugin whose turn it is; the response writer records it as the one that answered.</summary>
    public string CurrentPlugin { get; set; } = "";
    public bool ResponseWritten { get; private set; }
    public int ResponseRcode { get; private set; }
    public int ResponseLength { get; private set; }
    public string? RespondingPlugin { get; private set; }
    /// <summary>An error a plugin reports along with a failure rcode, for the errors plugin to log.</summary>
    public Exception? Error { get; set; }
    /// <summary>Set by loadbalance: how the transport reorders the records of the response before sending.</summary>
    public IAnswerOrder? AnswerOrder { get; set; }
    /// <summary>Cancelled when the server stops or the client is gone.</summary>
    public CancellationToken Aborted { get; private set; }

    /// <summary>The query name as lower-case text with a trailing dot; built on first use (not on the hot path).</summary>
    public string Name => _nameText ??= DnsName.ToText(QName);

    public IPEndPoint RemoteEndPoint => _remoteEndPoint ??= RemoteSocketAddress is null
        ? new IPEndPoint(IPAddress.Loopback, 0)
        : Normalize((IPEndPoint)AnyEndPoint(RemoteSocketAddress.Family).Create(RemoteSocketAddress));

    // A listener bound to an IPv4 address (bind plugin) gets IPv4 socket addresses, which an IPv6 template cannot read.
    private static IPEndPoint AnyEndPoint(AddressFamily family) =>
        family == AddressFamily.InterNetwork ? new IPEndPoint(IPAddress.Any, 0) : new IPEndPoint(IPAddress.IPv6Any, 0);

    private static IPEndPoint Normalize(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

    /// <summary>Prepares the context for a query of <paramref name="length"/> bytes already in <see cref="QueryBuffer"/>.</summary>
    public void Reset(int length, DnsTransport transport, SocketAddress? remote, int localPort, CancellationToken aborted)
    {
        QueryLength = length;
        Transport = transport;
        RemoteSocketAddress = remote;
        Family = remote is null ? AddressFamily.InterNetwork : FamilyOf(remote);
        LocalPort = localPort;
        Aborted = aborted;
        StartTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
        Id = 0; Opcode = 0; RecursionDesired = false; CheckingDisabled = false; QType = 0; QClass = 0; QuestionEnd = 0; QNameLength = 0;
        HasEdns = false; EdnsUdpSize = 0; EdnsVersion = 0; DnssecOk = false;
        Zone = null; CurrentPlugin = ""; ResponseWritten = false; ResponseRcode = 0; ResponseLength = 0; RespondingPlugin = null;
        Error = null; AnswerOrder = null; _nameText = null; _remoteEndPoint = null;
    }

    private static AddressFamily FamilyOf(SocketAddress address)
    {
        if (address.Family != AddressFamily.InterNetworkV6) return address.Family;
        // A dual-mode socket reports IPv4 clients as ::ffff:a.b.c.d; metrics count them as IPv4, as CoreDNS does.
        var buffer = address.Buffer.Span;
        return buffer.Length >= 24 && buffer[8..18].IndexOfAnyExcept((byte)0) < 0 && buffer[18] == 0xFF && buffer[19] == 0xFF
            ? AddressFamily.InterNetwork
            : AddressFamily.InterNetworkV6;
    }

    /// <summary>What parsing the query found: fine, answer FORMERR, answer NOTIMP, or drop it silently.</summary>
    public enum ParseResult { Ok, FormatError, NotImplemented, Drop }

    /// <summary>
    /// Parses header, question and EDNS OPT of the query in place. Anything malformed yields FormatError (the
    /// header could be read, so a FORMERR can be sent) or Drop (too short to answer, or a response, not a query).
    /// </summary>
    public ParseResult Parse()
    {
        var message = Query;
        if (message.Length < 12) return ParseResult.Drop;
        Id = DnsName.ReadUInt16(message, 0);
        var flags = DnsName.ReadUInt16(message, 2);
        if ((flags & 0x8000) != 0) return ParseResult.Drop; // a response: never answer it (reflection loops)
        Opcode = (byte)((flags >> 11) & 0xF);
        RecursionDesired = (flags & 0x0100) != 0;
        CheckingDisabled = (flags & 0x0010) != 0;
        var questions = DnsName.ReadUInt16(message, 4);
        if (Opcode != 0) return ParseResult.NotImplemented;
        if (questions != 1) return ParseResult.FormatError;
        if (!DnsName.TryRead(message, 12, _name, out var nameLength, out var next)) return ParseResult.FormatError;
        // The question is the first name of a message: there is nothing before it worth pointing at (only the
        // header, or the name itself), and answers copy it verbatim, so a compressed question is refused.
        if (next - 12 != nameLength) return ParseResult.FormatError;
        if (next + 4 > message.Length) return ParseResult.FormatError;
        QNameLength = nameLength;
        QType = DnsName.ReadUInt16(message, next);
        QClass = DnsName.ReadUInt16(message, next + 2);
        QuestionEnd = next + 4;
        return ParseEdns(message);
    }

    private ParseResult ParseEdns(ReadOnlySpan<byte> message)
    {
        int answers = DnsName.ReadUInt16(message, 6), authorities = DnsName.ReadUInt16(message, 8), additionals = DnsName.ReadUInt16(message, 10);
        var position = QuestionEnd;
        var total = answers + authorities + additionals;
        for (var i = 0; i < total; i++)
        {
            var afterName = DnsName.Skip(message, position);
            if (afterName < 0 || afterName + 10 > message.Length) return ParseResult.FormatError;
            var type = DnsName.ReadUInt16(message, afterName);
            var rdLength = DnsName.ReadUInt16(message, afterName + 8);
            var end = afterName + 10 + rdLength;
            if (end > message.Length) return ParseResult.FormatError;
            if (type == DnsType.OPT && i >= answers + authorities)
            {
                if (HasEdns || afterName != position + 1) return ParseResult.FormatError; // two OPTs, or an OPT not owned by the root
                HasEdns = true;
                EdnsUdpSize = Math.Max((ushort)512, DnsName.ReadUInt16(message, afterName + 2));
                EdnsVersion = message[afterName + 5];
                DnssecOk = (message[afterName + 6] & 0x80) != 0;
            }
            position = end;
        }
        return ParseResult.Ok;
    }

    /// <summary>Called by the response writer when it has sent a response.</summary>
    public void RecordResponse(int rcode, int length)
    {
        ResponseWritten = true;
        ResponseRcode = rcode;
        ResponseLength = length;
        RespondingPlugin = CurrentPlugin;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_query);
        ArrayPool<byte>.Shared.Return(_response);
    }
}
