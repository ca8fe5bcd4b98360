using ClusterDns.Server.Pipeline;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Hosting;

/// <summary>
/// Process-wide services that outlive any one configuration: logging, time, randomness, the HTTP endpoints shared by
/// health, ready and prometheus, and the server's life state. Plugins reach them through their setup context.
/// </summary>
public sealed class ServerServices
{
    private readonly Dictionary<Type, object> _extensions = [];

    public ServerServices(ILoggerFactory loggerFactory, TimeProvider? timeProvider = null, Random? random = null)
    {
        LoggerFactory = loggerFactory;
        TimeProvider = timeProvider ?? TimeProvider.System;
        Random = random ?? Random.Shared;
        HttpEndpoints = new HttpEndpointHost(loggerFactory.CreateLogger("ClusterDns.Http"));
    }

    public ILoggerFactory LoggerFactory { get; }
    public TimeProvider TimeProvider { get; }
    public Random Random { get; }
    public HttpEndpointHost HttpEndpoints { get; }

    /// <summary>Set once SIGTERM arrived: /ready turns 503 while lameduck keeps serving.</summary>
    public bool IsShuttingDown { get; internal set; }

    /// <summary>
    /// Set once the first configuration's listeners are bound. Until then /ready answers 503: the HTTP endpoints start
    /// with the plugins, before startup hooks such as kubernetes' wait for the API, and a pod marked ready before its
    /// DNS port is open loses the queries sent to it.
    /// </summary>
    public bool IsServing { get; internal set; }

    /// <summary>The readiness reporters of the configuration currently serving (before that, of the one starting).</summary>
    public IReadOnlyList<IReadinessReporter> ReadinessReporters { get; internal set; } = [];

    /// <summary>How long to keep serving after SIGTERM (health's lameduck), as set by the serving configuration.</summary>
    public TimeSpan Lameduck { get; set; }

    /// <summary>The path of the Corefile being served (reload watches it).</summary>
    public string? CorefilePath { get; internal set; }

    /// <summary>Asks the host to load the Corefile again (reload plugin); set by the host.</summary>
    public Func<Task<bool>>? RequestReload { get; internal set; }

    /// <summary>Lets the executable hand plugins process-wide settings (such as the demo's API server address).</summary>
    public void SetExtension<T>(T value) where T : class => _extensions[typeof(T)] = value;

    public T? GetExtension<T>() where T : class => _extensions.TryGetValue(typeof(T), out var value) ? (T)value : null;
}
