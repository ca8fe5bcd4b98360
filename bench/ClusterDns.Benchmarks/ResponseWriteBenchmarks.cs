using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using ClusterDns.Server.Pipeline;
using Makaretu.Dns;

namespace ClusterDns.Benchmarks;

/// <summary>
/// Sending a precomputed answer, as a cache hit does: copy the wire bytes, write the query's ID and its own letter case
/// into the question, lower the TTLs, then the transport's finalizer (EDNS, size limit).
/// </summary>
[MemoryDiagnoser]
public class ResponseWriteBenchmarks
{
    private readonly DnsRequestContext _request = new();
    private readonly TransportWriter _writer = new();
    private byte[] _answer = [];
    private int[] _ttlOffsets = [];

    [GlobalSetup]
    public void Setup()
    {
        var query = Queries.Build("WWW.Example.ORG.", DnsType.A);
        query.CopyTo(_request.QueryBuffer, 0);
        _request.Reset(query.Length, DnsTransport.Udp, null, 53, CancellationToken.None);
        if (_request.Parse() != DnsRequestContext.ParseResult.Ok) throw new InvalidOperationException("query did not parse");

        var response = new Message { Id = 1, QR = true, RD = true, RA = true };
        response.Questions.Add(new Question { Name = "www.example.org", Type = DnsType.A, Class = DnsClass.IN });
        for (var i = 1; i <= 3; i++) response.Answers.Add(new ARecord { Name = "www.example.org", TTL = TimeSpan.FromSeconds(300), Address = new([10, 0, 0, (byte)i]) });
        _answer = response.ToByteArray();
        // Each A record after the question: name pointer (2), type (2), class (2), then the TTL.
        var first = _request.QuestionEnd;
        if (_answer[first] != 0xC0) throw new InvalidOperationException("expected compressed answer names");
        _ttlOffsets = [first + 6, first + 16 + 6, first + 32 + 6];
    }

    [Benchmark]
    public int CopyPatchAndFinish()
    {
        var buffer = _request.ResponseBuffer;
        _answer.CopyTo(buffer);
        BinaryPrimitives.WriteUInt16BigEndian(buffer, _request.Id);
        _request.Question.CopyTo(buffer[12..]);
        foreach (var offset in _ttlOffsets) BinaryPrimitives.WriteUInt32BigEndian(buffer[offset..], 299);
        _writer.Write(_request, buffer[.._answer.Length]);
        return _writer.LastLength;
    }

    [GlobalCleanup]
    public void Cleanup() => _request.Dispose();
}
