using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Listeners.Native;
using ClusterDns.Server.Pipeline;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Listeners;

/// <summary>
/// UDP on one address and port: one SO_REUSEPORT socket per core, each drained by a dedicated thread, so the kernel
/// spreads clients across cores and no query waits on the thread pool. On Linux a thread takes a batch of datagrams
/// per recvmmsg and sends the batch's answers with one sendmmsg; elsewhere it receives and sends one at a time. A
/// query the pipeline answers synchronously (cluster names, cache hits) is answered on the receiving thread without
/// allocating; one that waits on I/O (forward) takes its context along, answers on its own when done, and the thread
/// continues with a fresh context.
/// </summary>
public sealed partial class UdpListener : IDisposable
{
    private const int ReceiveBufferBytes = 4 * 1024 * 1024;

    private readonly List<Socket> _sockets = [];
    private readonly List<Thread> _threads = [];
    private readonly DnsQueryProcessor _processor;
    private readonly Func<ZoneRouter> _router;
    private readonly Random _random;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly bool _batched;

    /// <param name="batched">Use recvmmsg/sendmmsg where the platform has them; false keeps the per-datagram loop.</param>
    public UdpListener(IPEndPoint endPoint, int socketCount, DnsQueryProcessor processor, Func<ZoneRouter> router, Random random, ILogger logger,
        bool batched = true)
    {
        _batched = batched && LinuxDatagramBatch.IsSupported;
        _processor = processor;
        _router = router;
        _random = random;
        _logger = logger;
        var port = endPoint.Port;
        for (var i = 0; i < Math.Max(1, socketCount); i++)
        {
            var socket = CreateSocket(new IPEndPoint(endPoint.Address, port), reusePort: socketCount > 1);
            port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            _sockets.Add(socket);
        }
        LocalEndPoint = (IPEndPoint)_sockets[0].LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Whether the receive threads use recvmmsg/sendmmsg.</summary>
    public bool IsBatched => _batched;

    private static Socket CreateSocket(IPEndPoint endPoint, bool reusePort)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            if (reusePort && OperatingSystem.IsLinux()) socket.SetRawSocketOption(1 /* SOL_SOCKET */, 15 /* SO_REUSEPORT */, BitConverter.GetBytes(1));
            // Bursts above the default 208 KiB buffer are dropped by the kernel before we see them.
            socket.ReceiveBufferSize = ReceiveBufferBytes;
            socket.Bind(endPoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Start()
    {
        for (var i = 0; i < _sockets.Count; i++)
        {
            var socket = _sockets[i];
            var thread = new Thread(_batched ? () => BatchedReceiveLoop(socket) : () => ReceiveLoop(socket)) { IsBackground = true, Name = $"dns-udp-{LocalEndPoint.Port}-{i}" };
            _threads.Add(thread);
            thread.Start();
        }
    }

    private void ReceiveLoop(Socket socket)
    {
        var writer = new UdpResponseWriter(socket, _random);
        var token = _stopping.Token;
        var request = new DnsRequestContext();
        var remote = new SocketAddress(socket.AddressFamily);
        var localPort = LocalEndPoint.Port;
        while (!token.IsCancellationRequested)
        {
            int received;
            try
            {
                received = socket.ReceiveFrom(request.QueryBuffer.AsSpan(0, DnsRequestContext.MaxMessageSize), SocketFlags.None, remote);
            }
            catch (SocketException exception) when (exception.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                continue;
            }
            catch (Exception) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            request.Reset(received, DnsTransport.Udp, remote, localPort, token);
            var pending = _processor.ProcessAsync(request, _router(), writer);
            if (!pending.IsCompletedSuccessfully)
            {
                // The query now belongs to the pending operation, which disposes it when done.
                _ = FinishAsync(pending, request);
                request = new DnsRequestContext();
                remote = new SocketAddress(socket.AddressFamily);
            }
        }
        request.Dispose();
    }

    private void BatchedReceiveLoop(Socket socket)
    {
        var handle = socket.SafeHandle;
        var referenced = false;
        // Holding a reference keeps the descriptor from being closed (and its number reused) under a running recvmmsg.
        handle.DangerousAddRef(ref referenced);
        using var batch = new LinuxDatagramBatch();
        var fd = (int)handle.DangerousGetHandle();
        var writer = new BatchedResponseWriter(socket, fd, batch, _random);
        var token = _stopping.Token;
        var request = new DnsRequestContext();
        var remote = new SocketAddress(socket.AddressFamily);
        var localPort = LocalEndPoint.Port;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var count = batch.Receive(fd);
                if (count < 0) break;
                for (var i = 0; i < count && !token.IsCancellationRequested; i++)
                {
                    var datagram = batch.Datagram(i);
                    datagram.CopyTo(request.QueryBuffer);
                    batch.CopySender(i, remote);
                    request.Reset(datagram.Length, DnsTransport.Udp, remote, localPort, token);
                    writer.Collect(request, i);
                    var pending = _processor.ProcessAsync(request, _router(), writer);
                    writer.Collect(null, -1);
                    if (!pending.IsCompletedSuccessfully)
                    {
                        _ = FinishAsync(pending, request);
                        request = new DnsRequestContext();
                        remote = new SocketAddress(socket.AddressFamily);
                    }
                }
                batch.Send(fd);
            }
        }
        finally
        {
            request.Dispose();
            if (referenced) handle.DangerousRelease();
        }
    }

    private async Task FinishAsync(ValueTask pending, DnsRequestContext request)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            LogAsyncFailure(_logger, exception);
        }
        finally
        {
            request.Dispose();
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        foreach (var socket in _sockets)
        {
            try
            {
                // Wakes a thread blocked in recvmmsg (closing the descriptor would not); Linux reports ENOTCONN for an
                // unconnected UDP socket but shuts it down all the same.
                socket.Shutdown(SocketShutdown.Receive);
            }
            catch (SocketException)
            {
            }
            socket.Dispose();
        }
        foreach (var thread in _threads) thread.Join(TimeSpan.FromSeconds(2));
        _stopping.Dispose();
    }

    private sealed class UdpResponseWriter(Socket socket, Random random) : IDnsResponseWriter
    {
        public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
        {
            var output = request.ResponseBuffer;
            response.CopyTo(output);
            var length = ResponseFinalizer.Finish(request, output, response.Length, ResponseFinalizer.UdpLimit(request), random);
            SendAlone(socket, request, output[..length]);
            request.RecordResponse(output[3] & 0xF, length);
        }
    }

    /// <summary>
    /// Answers of the batch being processed go into its send vector; an answer written later by a query that went
    /// async (on another thread, after the batch was sent) leaves on its own, as in the per-datagram loop.
    /// </summary>
    private sealed class BatchedResponseWriter(Socket socket, int fd, LinuxDatagramBatch batch, Random random) : IDnsResponseWriter
    {
        private readonly int _receiveThread = Environment.CurrentManagedThreadId;
        private DnsRequestContext? _collecting;
        private int _slot;

        public void Collect(DnsRequestContext? request, int slot)
        {
            _collecting = request;
            _slot = slot;
        }

        public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
        {
            var output = request.ResponseBuffer;
            response.CopyTo(output);
            var length = ResponseFinalizer.Finish(request, output, response.Length, ResponseFinalizer.UdpLimit(request), random);
            var batched = Environment.CurrentManagedThreadId == _receiveThread && ReferenceEquals(request, _collecting)
                && batch.TryAddAnswer(fd, _slot, output[..length]);
            if (!batched) SendAlone(socket, request, output[..length]);
            request.RecordResponse(output[3] & 0xF, length);
        }
    }

    private static void SendAlone(Socket socket, DnsRequestContext request, ReadOnlySpan<byte> answer)
    {
        try
        {
            socket.SendTo(answer, SocketFlags.None, request.RemoteSocketAddress!);
        }
        catch (SocketException)
        {
            // The client went away or its buffer is full; UDP promises nothing more.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Error, Message = "UDP query failed")]
    private static partial void LogAsyncFailure(ILogger logger, Exception exception);
}
