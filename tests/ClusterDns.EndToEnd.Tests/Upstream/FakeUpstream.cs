using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ClusterDns.EndToEnd.Tests.Upstream;

/// <summary>How a <see cref="FakeUpstream"/> misbehaves.</summary>
public enum FakeUpstreamMode
{
    /// <summary>Answers every query with one A record 192.0.2.53 (TTL 60).</summary>
    Answer,
    /// <summary>Reads queries and never answers.</summary>
    Silent,
    /// <summary>Answers after <see cref="FakeUpstream.Delay"/>.</summary>
    Slow,
    /// <summary>Over UDP answers with TC set and no records; over TCP answers fully.</summary>
    Truncating,
    /// <summary>Answers SERVFAIL.</summary>
    ServFail,
    /// <summary>Over TCP closes the connection halfway through the answer; over UDP stays silent.</summary>
    CloseMidAnswer,
}

/// <summary>
/// An in-process upstream for faults a real resolver will not produce on demand: silence, slowness, truncation,
/// SERVFAIL, a TCP connection closed mid-answer. Counts what it received, per transport.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private readonly Socket _udp;
    private readonly Socket _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private int _udpQueries, _tcpQueries, _healthChecks;

    public FakeUpstream(FakeUpstreamMode mode = FakeUpstreamMode.Answer)
    {
        Mode = mode;
        _udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)_udp.LocalEndPoint!).Port;
        _tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
        _tcp.Listen(64);
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
        _loops.Add(Task.Run(UdpLoopAsync));
        _loops.Add(Task.Run(AcceptLoopAsync));
    }

    public volatile FakeUpstreamMode Mode;
    public TimeSpan Delay { get; set; } = TimeSpan.FromSeconds(1);
    public IPEndPoint EndPoint { get; }
    public string Address => $"127.0.0.1:{EndPoint.Port}";
    /// <summary>Queries received other than health checks (<c>. NS</c>).</summary>
    public int Queries => Volatile.Read(ref _udpQueries) + Volatile.Read(ref _tcpQueries);
    public int UdpQueries => Volatile.Read(ref _udpQueries);
    public int TcpQueries => Volatile.Read(ref _tcpQueries);
    public int HealthChecks => Volatile.Read(ref _healthChecks);
    /// <summary>Names received (lower-case, with trailing dot), in order.</summary>
    public ConcurrentQueue<string> Names { get; } = new();

    private async Task UdpLoopAsync()
    {
        var buffer = new byte[65535];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            var query = buffer[..received.ReceivedBytes];
            var client = received.RemoteEndPoint;
            _ = Task.Run(async () =>
            {
                var reply = await ReplyAsync(query, tcp: false);
                if (reply is not null) await _udp.SendToAsync(reply, SocketFlags.None, client);
            });
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _tcp.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = Task.Run(() => ServeTcpAsync(connection));
        }
    }

    private async Task ServeTcpAsync(Socket connection)
    {
        using var _ = connection;
        using var stream = new NetworkStream(connection);
        var prefix = new byte[2];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await stream.ReadExactlyAsync(prefix, _stop.Token);
                var query = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
                await stream.ReadExactlyAsync(query, _stop.Token);
                var reply = await ReplyAsync(query, tcp: true);
                if (reply is null) continue;
                var frame = new byte[reply.Length + 2];
                BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)reply.Length);
                reply.CopyTo(frame, 2);
                if (Mode == FakeUpstreamMode.CloseMidAnswer)
                {
                    await stream.WriteAsync(frame.AsMemory(0, frame.Length / 2));
                    return;
                }
                await stream.WriteAsync(frame);
            }
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException or EndOfStreamException or SocketException)
        {
        }
    }

    private async Task<byte[]?> ReplyAsync(byte[] query, bool tcp)
    {
        if (query.Length < 17) return null;
        var questionEnd = 12;
        while (questionEnd < query.Length && query[questionEnd] != 0) questionEnd += 1 + query[questionEnd];
        questionEnd += 5;
        if (questionEnd > query.Length) return null;
        var isHealthCheck = query[12] == 0 && BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(13)) == 2;
        if (isHealthCheck) Interlocked.Increment(ref _healthChecks);
        else
        {
            if (tcp) Interlocked.Increment(ref _tcpQueries); else Interlocked.Increment(ref _udpQueries);
            Names.Enqueue(NameText(query));
        }
        var mode = Mode;
        switch (mode)
        {
            case FakeUpstreamMode.Silent:
                return null;
            case FakeUpstreamMode.CloseMidAnswer when !tcp:
                return null;
            case FakeUpstreamMode.Slow:
                await Task.Delay(Delay);
                break;
        }
        var reply = new byte[questionEnd + 16];
        query.AsSpan(0, questionEnd).CopyTo(reply);
        reply[2] = (byte)(0x80 | (query[2] & 0x01));
        reply[3] = 0x80;
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(6), 0);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(8), 0);
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(10), 0);
        if (mode == FakeUpstreamMode.ServFail && !isHealthCheck)
        {
            reply[3] |= 2;
            return reply[..questionEnd];
        }
        if (mode == FakeUpstreamMode.Truncating && !tcp)
        {
            reply[2] |= 0x02;
            return reply[..questionEnd];
        }
        // One A record: owner = pointer to the question, TTL 60, 192.0.2.53.
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(6), 1);
        var position = questionEnd;
        reply[position++] = 0xC0;
        reply[position++] = 0x0C;
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(position), 1); position += 2;
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(position), 1); position += 2;
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(position), 60); position += 4;
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(position), 4); position += 2;
        reply[position++] = 192; reply[position++] = 0; reply[position++] = 2; reply[position] = 53;
        return reply;
    }

    private static string NameText(byte[] query)
    {
        var parts = new List<string>();
        for (var position = 12; position < query.Length && query[position] != 0; position += 1 + query[position])
        {
            parts.Add(System.Text.Encoding.ASCII.GetString(query, position + 1, query[position]).ToLowerInvariant());
        }
        return string.Join('.', parts) + ".";
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _udp.Dispose();
        _tcp.Dispose();
        try { await Task.WhenAll(_loops); } catch (Exception) { }
    }
}
