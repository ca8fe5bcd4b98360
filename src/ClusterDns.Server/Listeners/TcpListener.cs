using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Pipeline;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Listeners;

/// <summary>
/// DNS over TCP (RFC 7766): two-byte length framing, queries pipelined on one connection answered in order, an idle
/// timeout, and a connection cap that closes the longest-idle connection to admit a new one, so stalled or
/// half-sent connections can never lock out a client's TCP retry.
/// </summary>
public sealed partial class TcpListener : IDisposable
{
    private readonly Socket _socket;
    private readonly DnsQueryProcessor _processor;
    private readonly Func<ZoneRouter> _router;
    private readonly Random _random;
    private readonly ILogger _logger;
    private readonly TcpListenerOptions _options;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<TcpConnection, byte> _connections = new();

    public TcpListener(IPEndPoint endPoint, TcpListenerOptions options, DnsQueryProcessor processor, Func<ZoneRouter> router, Random random, ILogger logger)
    {
        _options = options;
        _processor = processor;
        _router = router;
        _random = random;
        _logger = logger;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any)) _socket.DualMode = true;
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _socket.NoDelay = true;
            _socket.Bind(endPoint);
            _socket.Listen(1024);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }
    public int ConnectionCount => _connections.Count;

    public void Start() => _ = AcceptLoopAsync();

    private async Task AcceptLoopAsync()
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            if (_connections.Count >= _options.MaxConnections) CloseLongestIdle();
            var connection = new TcpConnection(this, client);
            _connections.TryAdd(connection, 0);
            _ = connection.RunAsync(token);
        }
    }

    private void CloseLongestIdle()
    {
        TcpConnection? oldest = null;
        foreach (var connection in _connections.Keys)
        {
            if (oldest is null || connection.LastActivity < oldest.LastActivity) oldest = connection;
        }
        if (oldest is null) return;
        // Out of the table at once: the connection leaves it itself only when its loop ends, and until then a flood
        // of accepts would pick the same, already aborted, connection again while the real count grows past the cap.
        _connections.TryRemove(oldest, out _);
        oldest.Abort();
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _socket.Dispose();
        foreach (var connection in _connections.Keys) connection.Abort();
        _stopping.Dispose();
    }

    private sealed class TcpConnection(TcpListener owner, Socket socket) : IDnsResponseWriter
    {
        private readonly Lock _sendGate = new();
        public long LastActivity = System.Diagnostics.Stopwatch.GetTimestamp();

        /// <summary>What one receive may bring in: a pipelining client's frames are read many at a time, not two reads each.</summary>
        private const int InputBufferSize = 16 * 1024;

        private byte[] _input = [];
        private int _inputStart, _inputEnd;
        // Answers held back while the next query is already buffered, then sent in one call (guarded by _sendGate).
        private byte[] _output = [];
        private int _outputLength;
        private bool _holdAnswers;

        public void Abort()
        {
            try { socket.Shutdown(SocketShutdown.Both); } catch (Exception) { }
            socket.Dispose();
        }

        public async Task RunAsync(CancellationToken stopping)
        {
            var localPort = owner.LocalEndPoint.Port;
            var remote = socket.RemoteEndPoint is { } endPoint ? endPoint.Serialize() : null;
            _input = ArrayPool<byte>.Shared.Rent(InputBufferSize);
            _output = ArrayPool<byte>.Shared.Rent(InputBufferSize);
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            try
            {
                while (!stopping.IsCancellationRequested)
                {
                    if (!await FillAsync(2, idle).ConfigureAwait(false)) return;
                    var length = BinaryPrimitives.ReadUInt16BigEndian(_input.AsSpan(_inputStart));
                    _inputStart += 2;
                    if (length == 0) return; // nothing a client can mean by it: close
                    var request = new DnsRequestContext();
                    try
                    {
                        if (!await ReadFrameAsync(request.QueryBuffer.AsMemory(0, length), idle).ConfigureAwait(false)) return;
                        request.Reset(length, DnsTransport.Tcp, remote, localPort, stopping);
                        SetHoldAnswers(NextFrameBuffered());
                        var processing = owner._processor.ProcessAsync(request, owner._router(), this);
                        // An answer that waits (an upstream) must not hold back the ones before it.
                        if (!processing.IsCompleted) SetHoldAnswers(false);
                        await processing.ConfigureAwait(false);
                        if (!request.ResponseWritten && length < 12) return; // not even a header: drop the connection
                    }
                    finally
                    {
                        request.Dispose();
                    }
                }
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
            {
            }
            catch (Exception exception)
            {
                LogConnectionFailed(owner._logger, exception);
            }
            finally
            {
                owner._connections.TryRemove(this, out _);
                try
                {
                    SetHoldAnswers(false);
                }
                catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
                {
                }
                Abort();
                ArrayPool<byte>.Shared.Return(_input);
                lock (_sendGate)
                {
                    ArrayPool<byte>.Shared.Return(_output);
                    _output = [];
                }
            }
        }

        /// <summary>
        /// Ensures <paramref name="count"/> bytes (at most the buffer's size) are buffered; false at end of stream or
        /// once the idle timeout passes without them, which starts when the bytes are not already there.
        /// </summary>
        private async ValueTask<bool> FillAsync(int count, CancellationTokenSource idle)
        {
            if (_inputEnd - _inputStart >= count) return true;
            if (_inputStart > 0)
            {
                _input.AsSpan(_inputStart, _inputEnd - _inputStart).CopyTo(_input);
                _inputEnd -= _inputStart;
                _inputStart = 0;
            }
            SetHoldAnswers(false);
            idle.CancelAfter(owner._options.IdleTimeout);
            while (_inputEnd < count)
            {
                var read = await ReceiveAsync(_input.AsMemory(_inputEnd), idle).ConfigureAwait(false);
                if (read == 0) return false;
                _inputEnd += read;
            }
            // Disarmed while the query is answered: a slow answer must not use up the client's next wait.
            idle.CancelAfter(Timeout.InfiniteTimeSpan);
            return true;
        }

        /// <summary>Moves one frame's body into <paramref name="frame"/>: what is buffered, then the rest straight from the socket.</summary>
        private async ValueTask<bool> ReadFrameAsync(Memory<byte> frame, CancellationTokenSource idle)
        {
            if (frame.Length <= _input.Length)
            {
                if (!await FillAsync(frame.Length, idle).ConfigureAwait(false)) return false;
                _input.AsMemory(_inputStart, frame.Length).CopyTo(frame);
                _inputStart += frame.Length;
                return true;
            }
            var buffered = _inputEnd - _inputStart;
            _input.AsMemory(_inputStart, buffered).CopyTo(frame);
            _inputStart = _inputEnd = 0;
            SetHoldAnswers(false);
            idle.CancelAfter(owner._options.IdleTimeout);
            for (var filled = buffered; filled < frame.Length;)
            {
                var read = await ReceiveAsync(frame[filled..], idle).ConfigureAwait(false);
                if (read == 0) return false;
                filled += read;
            }
            idle.CancelAfter(Timeout.InfiniteTimeSpan);
            return true;
        }

        private bool NextFrameBuffered()
        {
            var buffered = _inputEnd - _inputStart;
            return buffered >= 2 && buffered >= 2 + BinaryPrimitives.ReadUInt16BigEndian(_input.AsSpan(_inputStart));
        }

        /// <summary>Holding stops (and what was held is sent) before the connection waits for the client.</summary>
        private void SetHoldAnswers(bool hold)
        {
            lock (_sendGate)
            {
                _holdAnswers = hold;
                if (!hold) SendHeldAnswers();
            }
        }

        private void SendHeldAnswers()
        {
            if (_outputLength == 0) return;
            var length = _outputLength;
            _outputLength = 0;
            socket.Send(_output.AsSpan(0, length), SocketFlags.None);
        }

        /// <summary>One receive; 0 at end of stream or when the idle timeout has cancelled it.</summary>
        private async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationTokenSource idle)
        {
            int count;
            try
            {
                count = await socket.ReceiveAsync(buffer, SocketFlags.None, idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return 0;
            }
            if (count > 0) LastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
            return count;
        }

        public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
        {
            var frame = ArrayPool<byte>.Shared.Rent(response.Length + 2 + 64);
            try
            {
                response.CopyTo(frame.AsSpan(2));
                var length = ResponseFinalizer.Finish(request, frame.AsSpan(2), response.Length, DnsRequestContext.MaxMessageSize, owner._random);
                BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)length);
                lock (_sendGate)
                {
                    if (_holdAnswers && _outputLength + length + 2 <= _output.Length)
                    {
                        frame.AsSpan(0, length + 2).CopyTo(_output.AsSpan(_outputLength));
                        _outputLength += length + 2;
                    }
                    else
                    {
                        SendHeldAnswers();
                        socket.Send(frame.AsSpan(0, length + 2), SocketFlags.None);
                    }
                }
                request.RecordResponse(frame[5] & 0xF, length);
            }
            catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
            {
                request.RecordResponse(DnsRcode(response), response.Length);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(frame);
            }
            LastActivity = System.Diagnostics.Stopwatch.GetTimestamp();
        }

        private static int DnsRcode(ReadOnlySpan<byte> response) => response.Length > 3 ? response[3] & 0xF : 0;
    }

    [LoggerMessage(EventId = 210, Level = LogLevel.Warning, Message = "TCP connection failed")]
    private static partial void LogConnectionFailed(ILogger logger, Exception exception);
}

public sealed record TcpListenerOptions
{
    /// <summary>How long a connection may sit without completing a frame.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Connections kept open at once; beyond it the longest-idle one is closed to admit the new one.</summary>
    public int MaxConnections { get; init; } = 1000;
}
