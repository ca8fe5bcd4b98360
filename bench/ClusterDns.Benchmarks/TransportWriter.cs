using ClusterDns.Server.Pipeline;

namespace ClusterDns.Benchmarks;

/// <summary>What the UDP transport does with an answer, short of the socket: EDNS and truncation, then bookkeeping.</summary>
public sealed class TransportWriter : IDnsResponseWriter
{
    private readonly Random _random = new(1);

    public int LastLength { get; private set; }
    public int LastRcode { get; private set; }

    public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
    {
        var output = request.ResponseBuffer;
        response.CopyTo(output);
        var length = ResponseFinalizer.Finish(request, output, response.Length, ResponseFinalizer.UdpLimit(request), _random);
        LastLength = length;
        LastRcode = output[3] & 0xF;
        request.RecordResponse(LastRcode, length);
    }
}
