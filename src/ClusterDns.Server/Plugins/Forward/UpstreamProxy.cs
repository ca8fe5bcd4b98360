using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using ClusterDns.Server.Wire;
using Prometheus;

namespace ClusterDns.Server.Plugins.Forward;

/// <summary>Thrown when an upstream gave no usable answer in time; counts as a failure of that upstream.</summary>
public sealed class UpstreamException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One upstream of a forward block: exchanges queries over UDP, TCP or TLS with pooled sockets, counts its failures
/// and, after a failure, health-checks itself (<c>. IN NS</c>) every interval until it answers again.
/// </summary>
public sealed class UpstreamProxy : IDisposable
{
    private readonly ForwardOptions _options;
    private readonly TimeProvider _time;
    private readonly SslClientAuthenticationOptions? _tls;
    private readonly ConcurrentQueue<Socket> _udpPool = new();
    private readonly ConcurrentQueue<PooledStream> _streamPool = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Counter.Child _hits, _misses, _healthFailures;
    private readonly Histogram.Child?[] _durations = new Histogram.Child?[24];
    private int _fails;
    private int _probing;
    private int _disposed;

    public UpstreamProxy(UpstreamAddress address, ForwardOptions options, TimeProvider time)
    {
        Address = address;
        _options = options;
        _time = time;
        var proto = address.Tls ? "tcp-tls" : "tcp";
        _hits = ForwardMetrics.ConnCacheHits.WithLabels(ForwardMetrics.ProxyName, address.Label, proto);
        _misses = ForwardMetrics.ConnCacheMisses.WithLabels(ForwardMetrics.ProxyName, address.Label, proto);
        _healthFailures = ForwardMetrics.HealthcheckFailures.WithLabels(ForwardMetrics.ProxyName, address.Label);
        if (address.Tls) _tls = CreateTlsOptions(address, options);
    }

    public UpstreamAddress Address { get; }
    public int Fails => Volatile.Read(ref _fails);

    /// <summary>Down once it failed max_fails times in a row (never with max_fails 0); a successful health check clears it.</summary>
    public bool IsDown => _options.MaxFails != 0 && Volatile.Read(ref _fails) >= _options.MaxFails;

    public void ObserveDuration(int rcode, double seconds)
    {
        var index = (uint)rcode < (uint)_durations.Length ? rcode : 0;
        var child = _durations[index] ??= ForwardMetrics.RequestDuration.WithLabels(ForwardMetrics.ProxyName, Address.Label, DnsRcode.ToText(rcode));
        child.Observe(seconds);
    }

    /// <summary>Counts a failed exchange and starts health checking (CoreDNS's proxy.Healthcheck()).</summary>
    public void ReportFailure()
    {
        if (_options.MaxFails == 0) return;
        Interlocked.Increment(ref _fails);
        StartHealthCheck();
    }

    private void StartHealthCheck()
    {
        if (Interlocked.CompareExchange(ref _probing, 1, 0) != 0) return;
        _ = Task.Run(HealthCheckLoopAsync);
    }

    private async Task HealthCheckLoopAsync()
    {
        var token = _stopping.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                if (await CheckAsync(token).ConfigureAwait(false))
                {
                    Volatile.Write(ref _fails, 0);
                    return;
                }
                _healthFailures.Inc();
                Interlocked.Increment(ref _fails);
                await Task.Delay(_options.HealthCheckInterval, _time, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            Volatile.Write(ref _probing, 0);
        }
    }

    /// <summary>One health check: <c>. IN NS</c> (or the configured domain); any reply at all means healthy.</summary>
    public async Task<bool> CheckAsync(CancellationToken cancellationToken)
    {
        var domain = _options.HealthCheckDomain;
        var query = new byte[12 + domain.Length + 4];
        BinaryPrimitives.WriteUInt16BigEndian(query, (ushort)Random.Shared.Next(1, 65536));
        if (_options.HealthCheckRecursionDesired) query[2] = 0x01;
        query[5] = 1;
        domain.CopyTo(query, 12);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(12 + domain.Length), DnsType.NS);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(14 + domain.Length), DnsClass.IN);
        var buffer = ArrayPool<byte>.Shared.Rent(DnsRequestLimits.MaxMessage);
        try
        {
            var tcp = _options.ForceTcp || Address.Tls;
            await ExchangeAsync(query, query.Length, domain, DnsType.NS, DnsClass.IN, tcp, buffer, TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception exception) when (exception is UpstreamException or SocketException or IOException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Sends <paramref name="query"/> (with its ID already set) and returns the length of the matching reply in
    /// <paramref name="response"/>: same ID, a response, the same question. Throws <see cref="UpstreamException"/>
    /// when none came within <paramref name="timeout"/>.
    /// </summary>
    public async Task<int> ExchangeAsync(byte[] query, int length, byte[] qname, ushort qtype, ushort qclass, bool tcp, byte[] response,
        TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        timeoutSource.CancelAfter(timeout);
        try
        {
            return tcp || Address.Tls
                ? await ExchangeStreamAsync(query, length, qname, qtype, qclass, response, timeoutSource.Token).ConfigureAwait(false)
                : await ExchangeUdpAsync(query, length, qname, qtype, qclass, response, timeoutSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new UpstreamException($"no answer from {Address.Label} within {timeout.TotalSeconds:0.###}s");
        }
    }

    private async Task<int> ExchangeUdpAsync(byte[] query, int length, byte[] qname, ushort qtype, ushort qclass, byte[] response, CancellationToken token)
    {
        if (!_udpPool.TryDequeue(out var socket))
        {
            socket = new Socket(Address.EndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            socket.Connect(Address.EndPoint);
        }
        var reusable = false;
        try
        {
            await socket.SendAsync(query.AsMemory(0, length), SocketFlags.None, token).ConfigureAwait(false);
            while (true)
            {
                int received;
                try
                {
                    received = await socket.ReceiveAsync(response, SocketFlags.None, token).ConfigureAwait(false);
                }
                catch (SocketException exception)
                {
                    throw new UpstreamException($"{Address.Label}: {exception.SocketErrorCode}", exception);
                }
                // Late replies to earlier queries on a pooled socket, and spoofed ones, are skipped.
                if (Matches(query, response.AsSpan(0, received), qname, qtype, qclass))
                {
                    reusable = true;
                    return received;
                }
            }
        }
        finally
        {
            if (reusable && _udpPool.Count < 64 && Volatile.Read(ref _disposed) == 0) _udpPool.Enqueue(socket);
            else socket.Dispose();
        }
    }

    private async Task<int> ExchangeStreamAsync(byte[] query, int length, byte[] qname, ushort qtype, ushort qclass, byte[] response, CancellationToken token)
    {
        // A pooled connection the upstream closed meanwhile fails on first use: then once more on a fresh one.
        for (var attempt = 0; ; attempt++)
        {
            var pooled = TakePooled();
            var connection = pooled ?? await ConnectAsync(token).ConfigureAwait(false);
            var ok = false;
            try
            {
                var frame = ArrayPool<byte>.Shared.Rent(length + 2);
                try
                {
                    BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)length);
                    query.AsSpan(0, length).CopyTo(frame.AsSpan(2));
                    await connection.Stream.WriteAsync(frame.AsMemory(0, length + 2), token).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(frame);
                }
                while (true)
                {
                    await connection.Stream.ReadExactlyAsync(response.AsMemory(0, 2), token).ConfigureAwait(false);
                    var size = BinaryPrimitives.ReadUInt16BigEndian(response);
                    await connection.Stream.ReadExactlyAsync(response.AsMemory(0, size), token).ConfigureAwait(false);
                    if (Matches(query, response.AsSpan(0, size), qname, qtype, qclass))
                    {
                        ok = true;
                        return size;
                    }
                }
            }
            catch (Exception exception) when (exception is IOException or SocketException or EndOfStreamException or ObjectDisposedException)
            {
                if (pooled is not null && attempt == 0) continue;
                throw new UpstreamException($"{Address.Label}: {exception.Message}", exception);
            }
            finally
            {
                if (ok && Volatile.Read(ref _disposed) == 0)
                {
                    connection.LastUsed = _time.GetTimestamp();
                    _streamPool.Enqueue(connection);
                }
                else
                {
                    connection.Dispose();
                }
            }
        }
    }

    private PooledStream? TakePooled()
    {
        while (_streamPool.TryDequeue(out var connection))
        {
            if (_time.GetElapsedTime(connection.LastUsed) < _options.Expire)
            {
                _hits.Inc();
                return connection;
            }
            connection.Dispose();
        }
        _misses.Inc();
        return null;
    }

    private async Task<PooledStream> ConnectAsync(CancellationToken token)
    {
        var socket = new Socket(Address.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(Address.EndPoint, token).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (_tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsClientAsync(_tls, token).ConfigureAwait(false);
                stream = ssl;
            }
            return new PooledStream(stream);
        }
        catch (SocketException exception)
        {
            socket.Dispose();
            throw new UpstreamException($"{Address.Label}: {exception.SocketErrorCode}", exception);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static bool Matches(byte[] query, ReadOnlySpan<byte> response, byte[] qname, ushort qtype, ushort qclass)
    {
        if (response.Length < 12 || response[0] != query[0] || response[1] != query[1] || (response[2] & 0x80) == 0) return false;
        if (DnsName.ReadUInt16(response, 4) != 1) return false;
        Span<byte> name = stackalloc byte[DnsName.MaxWireLength + 1];
        if (!DnsName.TryRead(response, 12, name, out var nameLength, out var next) || next + 4 > response.Length) return false;
        return name[..nameLength].SequenceEqual(qname) && DnsName.ReadUInt16(response, next) == qtype && DnsName.ReadUInt16(response, next + 2) == qclass;
    }

    private static SslClientAuthenticationOptions CreateTlsOptions(UpstreamAddress address, ForwardOptions options)
    {
        var tls = new SslClientAuthenticationOptions
        {
            TargetHost = address.ServerName ?? options.TlsServerName ?? address.EndPoint.Address.ToString(),
        };
        if (options.TlsCertificate is { } cert && options.TlsKey is { } key)
        {
            tls.ClientCertificates = [X509Certificate2.CreateFromPemFile(cert, key)];
        }
        if (options.TlsCa is { } ca)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(ca);
            tls.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust };
            tls.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
        }
        return tls;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        while (_udpPool.TryDequeue(out var socket)) socket.Dispose();
        while (_streamPool.TryDequeue(out var connection)) connection.Dispose();
    }

    private sealed class PooledStream(Stream stream) : IDisposable
    {
        public Stream Stream { get; } = stream;
        public long LastUsed { get; set; }
        public void Dispose() => Stream.Dispose();
    }
}

internal static class DnsRequestLimits
{
    public const int MaxMessage = 65535;
}
