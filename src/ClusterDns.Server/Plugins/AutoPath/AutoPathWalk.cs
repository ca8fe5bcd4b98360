using System.Buffers;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.AutoPath;

/// <summary>
/// What one search-path walk needs, kept between queries (pooled by the plugin): the query for the next candidate
/// name, and the replies the rest of the chain gave, held because the reply buffers belong to their requests.
/// </summary>
internal sealed class AutoPathWalk : IDisposable
{
    public DnsRequestContext Candidate { get; } = new();
    public HeldResponse First { get; } = new();
    public HeldResponse Found { get; } = new();

    /// <summary>The candidate's name as the client wrote its part of it (wire form, uncompressed).</summary>
    public ReadOnlySpan<byte> CandidateName => Candidate.Question[..^4];

    /// <summary>
    /// Builds the query for <c>base.domain</c>: the client's header, its base labels in its own letter case, the
    /// domain, and the rest of its query (type, class, OPT). False when the name would exceed 255 bytes.
    /// </summary>
    public bool Prepare(DnsRequestContext request, int baseLength, ReadOnlySpan<byte> domain)
    {
        var nameLength = baseLength + domain.Length;
        if (nameLength > DnsName.MaxWireLength) return false;
        var query = request.Query;
        var buffer = Candidate.QueryBuffer.AsSpan();
        query[..12].CopyTo(buffer);
        query.Slice(12, baseLength).CopyTo(buffer[12..]);
        domain.CopyTo(buffer[(12 + baseLength)..]);
        var rest = query[(12 + request.QNameLength)..];
        rest.CopyTo(buffer[(12 + nameLength)..]);
        Candidate.Reset(12 + nameLength + rest.Length, request.Transport, request.RemoteSocketAddress, request.LocalPort, request.Aborted);
        if (Candidate.Parse() != DnsRequestContext.ParseResult.Ok) return false;
        Candidate.Zone = request.Zone;
        return true;
    }

    public void Dispose()
    {
        Candidate.Dispose();
        First.Dispose();
        Found.Dispose();
    }
}

/// <summary>A response writer that keeps a copy of the reply instead of sending it.</summary>
internal sealed class HeldResponse : IDnsResponseWriter, IDisposable
{
    private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(DnsRequestContext.MaxMessageSize);
    private int _length = -1;

    public bool Written => _length >= 12;
    public ReadOnlySpan<byte> Message => _buffer.AsSpan(0, Math.Max(0, _length));
    public int Rcode => _buffer[3] & 0x0F;
    public bool Truncated => (_buffer[2] & 0x02) != 0;

    public void Clear() => _length = -1;

    public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
    {
        if (response.Length > _buffer.Length) return;
        response.CopyTo(_buffer);
        _length = response.Length;
    }

    public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
}
