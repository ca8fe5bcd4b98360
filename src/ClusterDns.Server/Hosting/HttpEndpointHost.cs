using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Hosting;

/// <summary>
/// The small HTTP servers behind health, ready and prometheus. Handlers are registered per address and path;
/// one listener serves an address for as long as any registration holds it, so a reload that registers the same
/// address again keeps the port open (Kubernetes probes never see it close).
/// </summary>
public sealed partial class HttpEndpointHost : IAsyncDisposable
{
    public delegate Task HttpHandler(HttpListenerContext context);

    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, AddressListener> _listeners = new(StringComparer.Ordinal);

    public HttpEndpointHost(ILogger logger) => _logger = logger;

    /// <summary>
    /// Serves <paramref name="path"/> on <paramref name="address"/> (<c>:8080</c>, <c>127.0.0.1:9153</c>,
    /// <c>[::1]:8181</c>, <c>localhost:9153</c>) until the returned registration is disposed.
    /// </summary>
    public IDisposable Register(string address, string path, HttpHandler handler)
    {
        var prefix = ToPrefix(address);
        lock (_gate)
        {
            if (!_listeners.TryGetValue(prefix, out var listener))
            {
                listener = new AddressListener(prefix, _logger);
                try
                {
                    listener.Start();
                }
                catch (HttpListenerException exception)
                {
                    // An IOException is what startup and reload report as a plain error (CoreDNS: "listen tcp :8080: bind: ...").
                    throw new IOException($"listen tcp {address}: {exception.Message}", exception);
                }
                _listeners.Add(prefix, listener);
            }
            return listener.Add(path, handler, () => Release(prefix));
        }
    }

    private void Release(string prefix)
    {
        lock (_gate)
        {
            if (_listeners.TryGetValue(prefix, out var listener) && listener.IsEmpty)
            {
                _listeners.Remove(prefix);
                listener.Stop();
            }
        }
    }

    /// <summary>Turns a Corefile address into an HttpListener prefix; an empty host means every address.</summary>
    public static string ToPrefix(string address)
    {
        var separator = address.LastIndexOf(':');
        if (separator < 0 || address.EndsWith(']')) throw new FormatException($"address '{address}' has no port");
        var host = address[..separator];
        var portText = address[(separator + 1)..];
        if (!int.TryParse(portText, out var port) || port is < 0 or > 65535) throw new FormatException($"invalid port in '{address}'");
        if (host.Length == 0 || host == "0.0.0.0" || host == "[::]") host = "+";
        return $"http://{host}:{port}/";
    }

    public ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            foreach (var listener in _listeners.Values) listener.Stop();
            _listeners.Clear();
        }
        return ValueTask.CompletedTask;
    }

    private sealed class AddressListener(string prefix, ILogger logger)
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentDictionary<string, List<Registration>> _routes = new(StringComparer.Ordinal);

        public bool IsEmpty => _routes.IsEmpty;

        public void Start()
        {
            _listener.Prefixes.Add(prefix);
            _listener.IgnoreWriteExceptions = true;
            _listener.Start();
            _ = AcceptLoopAsync();
        }

        public IDisposable Add(string path, HttpHandler handler, Action onEmpty)
        {
            var registration = new Registration(this, path, handler, onEmpty);
            _routes.AddOrUpdate(path, _ => [registration], (_, list) => [.. list, registration]);
            return registration;
        }

        internal void Remove(Registration registration)
        {
            while (_routes.TryGetValue(registration.Path, out var list))
            {
                var remaining = list.Where(r => r != registration).ToList();
                if (remaining.Count == 0 ? _routes.TryRemove(new(registration.Path, list)) : _routes.TryUpdate(registration.Path, remaining, list)) break;
            }
            if (_routes.IsEmpty) registration.OnEmpty();
        }

        private async Task AcceptLoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync().ConfigureAwait(false);
                }
                catch (Exception) when (!_listener.IsListening)
                {
                    return;
                }
                catch (HttpListenerException)
                {
                    continue;
                }
                _ = ServeAsync(context);
            }
        }

        private async Task ServeAsync(HttpListenerContext context)
        {
            try
            {
                var path = context.Request.Url?.AbsolutePath ?? "/";
                // The newest registration of a path answers: after a reload it is the new configuration's.
                if (_routes.TryGetValue(path, out var list) && list.Count > 0)
                {
                    await list[^1].Handler(context).ConfigureAwait(false);
                }
                else
                {
                    context.Response.StatusCode = 404;
                }
            }
            catch (Exception exception)
            {
                LogHandlerFailed(logger, exception);
                try { context.Response.StatusCode = 500; } catch (InvalidOperationException) { }
            }
            finally
            {
                try { context.Response.Close(); } catch (Exception) { }
            }
        }

        public void Stop()
        {
            try { _listener.Stop(); _listener.Close(); } catch (ObjectDisposedException) { }
        }
    }

    private sealed class Registration(AddressListener owner, string path, HttpHandler handler, Action onEmpty) : IDisposable
    {
        private int _disposed;
        public string Path { get; } = path;
        public HttpHandler Handler { get; } = handler;
        public Action OnEmpty { get; } = onEmpty;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Remove(this);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "HTTP handler failed")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception);
}
