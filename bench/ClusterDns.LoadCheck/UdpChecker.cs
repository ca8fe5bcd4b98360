using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ClusterDns.LoadCheck;

/// <summary>
/// Sends queries at a fixed rate for a fixed time over one UDP socket, cycling through the expectations, matches
/// responses by ID (and question), and records for every query when it was sent and whether its answer was correct,
/// wrong, or never came within the timeout (lost).
/// </summary>
internal sealed class UdpChecker
{
    private readonly IPEndPoint _server;
    private readonly IReadOnlyList<Expectation> _expectations;
    private readonly int _rate;
    private readonly TimeSpan _duration;
    private readonly TimeSpan _timeout;
    private readonly string? _untilFile;
    private readonly QueryLog _log;
    private readonly int[] _indexById = new int[65536];

    /// <param name="untilFile">when this file appears, sending stops early (a fault script ends the run).</param>
    public UdpChecker(IPEndPoint server, IReadOnlyList<Expectation> expectations, int rate, TimeSpan duration, TimeSpan timeout, string? untilFile)
    {
        _untilFile = untilFile;
        _server = server;
        _expectations = expectations;
        _rate = rate;
        _duration = duration;
        _timeout = timeout;
        _log = new QueryLog(checked((int)(rate * duration.TotalSeconds) + rate));
        Array.Fill(_indexById, -1);
    }

    public QueryLog Run()
    {
        using var socket = new Socket(_server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.ReceiveBufferSize = 4 << 20;
        socket.Connect(_server);
        var clock = Stopwatch.StartNew();
        long startUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        _log.StartUnixMs = startUnixMs;
        var receiver = new Thread(() => Receive(socket, clock)) { IsBackground = true, Name = "receiver" };
        receiver.Start();

        var packet = new byte[512];
        long total = (long)(_rate * _duration.TotalSeconds);
        int sent = 0;
        ushort id = 0;
        long nextFileCheck = 0;
        while (sent < total)
        {
            if (_untilFile is not null && clock.ElapsedMilliseconds >= nextFileCheck)
            {
                if (File.Exists(_untilFile)) break;
                nextFileCheck = clock.ElapsedMilliseconds + 100;
            }
            long due = Math.Min(total, (long)(clock.Elapsed.TotalSeconds * _rate));
            while (sent < due)
            {
                int which = sent % _expectations.Count;
                var query = _expectations[which].Query;
                query.CopyTo(packet, 0);
                id++;
                BinaryPrimitives.WriteUInt16BigEndian(packet, id);
                _log.Record(sent, which, clock.Elapsed.TotalMilliseconds);
                Volatile.Write(ref _indexById[id], sent);
                try
                {
                    socket.Send(packet.AsSpan(0, query.Length));
                }
                catch (SocketException)
                {
                    // Connection refused from an earlier ICMP (the server is down): this query is simply lost.
                }
                sent++;
            }
            Thread.Sleep(1);
        }
        _log.Count = sent;
        Thread.Sleep(_timeout + _timeout); // late answers still count as late, not lost
        _stopped = true;
        socket.Close();
        receiver.Join();
        _log.TimeoutMs = _timeout.TotalMilliseconds;
        return _log;
    }

    private volatile bool _stopped;

    private void Receive(Socket socket, Stopwatch clock)
    {
        var buffer = new byte[65535];
        while (!_stopped)
        {
            int length;
            try
            {
                length = socket.Receive(buffer);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                continue; // ICMP port unreachable while the server is down
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            if (length < 12) continue;
            ushort id = BinaryPrimitives.ReadUInt16BigEndian(buffer);
            int index = Volatile.Read(ref _indexById[id]);
            if (index < 0 || _log.Status[index] != QueryStatus.Pending) continue;
            var expectation = _expectations[_log.Expectation[index]];
            double latency = clock.Elapsed.TotalMilliseconds - _log.SentMs[index];
            var message = buffer.AsSpan(0, length);
            if (!DnsWire.QuestionMatches(message, expectation.Query)) continue; // a late reply to a reused ID
            bool read = DnsWire.TryRead(message, expectation.Type, out var answer);
            bool correct = read && expectation.IsCorrect(answer);
            // An answer after the timeout is one a client has given up on; kept apart from lost, which never came.
            bool late = latency > _timeout.TotalMilliseconds;
            _log.Status[index] = late ? QueryStatus.Late : correct ? QueryStatus.Correct : QueryStatus.Wrong;
            _log.LatencyMs[index] = (float)latency;
            if (!correct && !late) _log.NoteWrong(expectation, read ? answer.ToString() : "malformed");
        }
    }
}
