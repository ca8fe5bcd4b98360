using System.Net;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Listeners;
using ClusterDns.Server.Pipeline;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Hosting;

/// <summary>
/// Runs the server: builds a configuration from a Corefile, binds its listeners, and on reload builds the next one
/// beside it and swaps it in (listeners on unchanged addresses stay open, so no query is dropped). A configuration
/// that fails to build or start is thrown away and the one serving keeps serving.
/// </summary>
public sealed partial class DnsServerHost : IAsyncDisposable
{
    private readonly PluginCatalog _catalog;
    private readonly DnsServerHostOptions _options;
    private readonly ILogger _logger;
    private readonly DnsQueryProcessor _processor;
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private readonly Dictionary<ListenAddress, ListenerPair> _listeners = [];
    private ServerConfiguration? _current;

    public DnsServerHost(PluginCatalog catalog, ServerServices services, DnsServerHostOptions? options = null)
    {
        _catalog = catalog;
        Services = services;
        _options = options ?? new DnsServerHostOptions();
        _logger = services.LoggerFactory.CreateLogger("ClusterDns.Server");
        _processor = new DnsQueryProcessor(services.LoggerFactory.CreateLogger("ClusterDns.Pipeline"));
        services.RequestReload = ReloadFromFileAsync;
    }

    public ServerServices Services { get; }
    public ServerConfiguration? Current => _current;
    /// <summary>Raised after a configuration went live (the first, and each successful reload).</summary>
    public event Action<ServerConfiguration>? ConfigurationLoaded;

    /// <summary>The UDP endpoints actually bound (a port of 0 in the Corefile resolves here).</summary>
    public IReadOnlyList<IPEndPoint> UdpEndPoints
    {
        get
        {
            var list = new List<IPEndPoint>();
            foreach (var pair in _listeners.Values) list.Add(pair.Udp.LocalEndPoint);
            return list;
        }
    }

    /// <summary>Loads the Corefile at <paramref name="path"/> and starts serving it.</summary>
    public Task StartFromFileAsync(string path, CancellationToken cancellationToken = default)
    {
        Services.CorefilePath = Path.GetFullPath(path);
        return StartAsync(CorefileParser.ParseFile(path), cancellationToken);
    }

    public async Task StartAsync(CorefileDocument document, CancellationToken cancellationToken = default)
    {
        LogWarnings(document);
        var configuration = ServerConfiguration.Build(document, _catalog, Services, _options.DefaultPort);
        await ActivateAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Re-reads the Corefile from disk; on any failure logs it, counts it and keeps serving the old one.</summary>
    public async Task<bool> ReloadFromFileAsync()
    {
        if (Services.CorefilePath is not { } path) return false;
        return await ReloadAsync(() => CorefileParser.ParseFile(path)).ConfigureAwait(false);
    }

    public async Task<bool> ReloadAsync(Func<CorefileDocument> load)
    {
        await _reloadGate.WaitAsync().ConfigureAwait(false);
        try
        {
            ServerConfiguration next;
            try
            {
                var document = load();
                LogWarnings(document);
                next = ServerConfiguration.Build(document, _catalog, Services, _options.DefaultPort);
            }
            catch (Exception exception) when (exception is CorefileException or IOException or UnauthorizedAccessException)
            {
                LogReloadFailed(_logger, exception.Message);
                ReloadFailed?.Invoke();
                return false;
            }
            try
            {
                await ActivateAsync(next, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                LogReloadFailed(_logger, exception.Message);
                ReloadFailed?.Invoke();
                await next.StopAsync().ConfigureAwait(false);
                return false;
            }
            LogReloaded(_logger);
            return true;
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    /// <summary>Counts a reload that failed (coredns_reload_failed_total); set by the reload plugin.</summary>
    public static event Action? ReloadFailed;

    private async Task ActivateAsync(ServerConfiguration next, CancellationToken cancellationToken)
    {
        // At first start /ready is served while plugins wait for their data (kubernetes' startup_timeout): it must
        // already ask them, not the empty list. On a reload the old configuration keeps answering until the swap.
        if (_current is null) Services.ReadinessReporters = next.ReadinessReporters;
        await next.StartAsync(cancellationToken).ConfigureAwait(false);
        // Bind what is new before anything old goes away, so a port that cannot be bound fails the whole swap.
        var opened = new List<ListenAddress>();
        try
        {
            foreach (var (address, router) in next.Routers)
            {
                if (_listeners.TryGetValue(address, out var existing))
                {
                    continue;
                }
                var pair = OpenListeners(address, router);
                _listeners[address] = pair;
                opened.Add(address);
            }
        }
        catch
        {
            foreach (var address in opened)
            {
                _listeners[address].Dispose();
                _listeners.Remove(address);
            }
            throw;
        }
        foreach (var (address, pair) in _listeners) pair.Router = next.Routers.TryGetValue(address, out var router) ? router : pair.Router;
        foreach (var address in _listeners.Keys.ToList())
        {
            if (!next.Routers.ContainsKey(address))
            {
                _listeners[address].Dispose();
                _listeners.Remove(address);
            }
        }
        foreach (var pair in _listeners.Values) pair.Start();
        var previous = _current;
        _current = next;
        Services.ReadinessReporters = next.ReadinessReporters;
        Services.IsServing = true;
        next.NotifyListening();
        ConfigurationLoaded?.Invoke(next);
        if (previous is not null) await previous.StopAsync().ConfigureAwait(false);
    }

    private ListenerPair OpenListeners(ListenAddress address, ZoneRouter router)
    {
        var pair = new ListenerPair(router);
        var endPoint = new IPEndPoint(address.Address, address.Port);
        var random = Services.Random;
        var udpLogger = Services.LoggerFactory.CreateLogger("ClusterDns.Udp");
        pair.Udp = new UdpListener(endPoint, _options.UdpSocketsPerAddress, _processor, () => pair.Router, random, udpLogger, _options.BatchedUdp);
        try
        {
            // TCP shares the port UDP got (which matters when the Corefile asked for port 0).
            var tcpEndPoint = new IPEndPoint(address.Address, pair.Udp.LocalEndPoint.Port);
            pair.Tcp = new TcpListener(tcpEndPoint, _options.Tcp, _processor, () => pair.Router, random, Services.LoggerFactory.CreateLogger("ClusterDns.Tcp"));
        }
        catch
        {
            pair.Udp.Dispose();
            throw;
        }
        return pair;
    }

    /// <summary>
    /// Stops serving: /ready turns 503 at once, queries keep being answered for <paramref name="lameduck"/>, then the
    /// listeners close and the plugins' background work stops.
    /// </summary>
    public async Task StopAsync(TimeSpan lameduck)
    {
        Services.IsShuttingDown = true;
        if (lameduck > TimeSpan.Zero)
        {
            LogLameduck(_logger, lameduck.TotalSeconds);
            await Task.Delay(lameduck, Services.TimeProvider).ConfigureAwait(false);
        }
        foreach (var pair in _listeners.Values) pair.Dispose();
        _listeners.Clear();
        if (_current is { } current) await current.StopAsync().ConfigureAwait(false);
        _current = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        await Services.HttpEndpoints.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class ListenerPair(ZoneRouter router) : IDisposable
    {
        private bool _started;
        public volatile ZoneRouter Router = router;
        public UdpListener Udp = null!;
        public TcpListener Tcp = null!;

        public void Start()
        {
            if (_started) return;
            _started = true;
            Udp.Start();
            Tcp.Start();
        }

        public void Dispose()
        {
            Udp.Dispose();
            Tcp.Dispose();
        }
    }

    private void LogWarnings(CorefileDocument document)
    {
        foreach (var warning in document.Warnings) LogCorefileWarning(_logger, warning);
    }

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogCorefileWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 300, Level = LogLevel.Error, Message = "Reload failed, keeping the running configuration: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Reloaded the Corefile")]
    private static partial void LogReloaded(ILogger logger);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Going into lameduck mode for {Seconds}s")]
    private static partial void LogLameduck(ILogger logger, double seconds);
}

public sealed record DnsServerHostOptions
{
    /// <summary>The port of keys that name none (<c>-dns.port</c>); 0 picks a free port, for tests.</summary>
    public int DefaultPort { get; init; } = 53;
    /// <summary>SO_REUSEPORT UDP sockets per address, each with its own receive thread.</summary>
    public int UdpSocketsPerAddress { get; init; } = Environment.ProcessorCount;
    /// <summary>recvmmsg/sendmmsg batches on Linux; false keeps one system call per datagram (for comparison).</summary>
    public bool BatchedUdp { get; init; } = true;
    public TcpListenerOptions Tcp { get; init; } = new();
}
