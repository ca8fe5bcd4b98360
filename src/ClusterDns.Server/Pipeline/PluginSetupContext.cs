using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;

namespace ClusterDns.Server.Pipeline;

/// <summary>
/// What a plugin's setup sees of its server block: the zones, the block options it may change, the process-wide
/// services, and hooks to run when the new configuration starts and when it is retired.
/// </summary>
public sealed class PluginSetupContext
{
    private readonly List<Func<CancellationToken, Task>> _startup;
    private readonly List<Func<Task>> _shutdown;
    private readonly List<Action> _listening;
    private readonly List<DnsPlugin> _plugins;
    private readonly List<Action> _blockComplete;

    internal PluginSetupContext(ServerBlock block, IReadOnlyList<string> zones, IReadOnlyList<string> servers, ServerBlockOptions options,
        ServerServices services, List<Func<CancellationToken, Task>> startup, List<Action> listening, List<Func<Task>> shutdown,
        List<DnsPlugin> plugins, List<Action> blockComplete)
    {
        _listening = listening;
        _blockComplete = blockComplete;
        Block = block;
        Zones = zones;
        Servers = servers;
        Options = options;
        Services = services;
        _startup = startup;
        _shutdown = shutdown;
        _plugins = plugins;
    }

    public ServerBlock Block { get; }
    /// <summary>The block's zones, lower-case with a trailing dot (<c>cluster.local.</c>).</summary>
    public IReadOnlyList<string> Zones { get; }
    /// <summary>The block's server labels as CoreDNS writes them in metrics (<c>dns://:53</c>).</summary>
    public IReadOnlyList<string> Servers { get; }
    public ServerBlockOptions Options { get; }
    public ServerServices Services { get; }

    /// <summary>Runs when the configuration goes live (initial start or reload); a throw fails the reload.</summary>
    public void OnStartup(Func<CancellationToken, Task> action) => _startup.Add(action);

    /// <summary>Runs once the configuration's listeners are open and routing to it (after the startup hooks).</summary>
    public void OnListening(Action action) => _listening.Add(action);

    /// <summary>
    /// Runs once every plugin of the block is set up, still within setup: checks across plugins (autopath needs
    /// its provider) throw a <see cref="CorefileException"/> here so the Corefile is refused with file:line.
    /// </summary>
    public void OnBlockComplete(Action action) => _blockComplete.Add(action);

    /// <summary>Runs when the configuration is retired (reload replaced it, or the server stops).</summary>
    public void OnShutdown(Func<Task> action) => _shutdown.Add(action);

    /// <summary>
    /// Serves <paramref name="path"/> on <paramref name="address"/> while this configuration is live (health, ready,
    /// prometheus); a reload that serves the same address keeps its port open.
    /// </summary>
    public void ServeHttp(string address, string path, HttpEndpointHost.HttpHandler handler)
    {
        IDisposable? registration = null;
        OnStartup(_ =>
        {
            registration = Services.HttpEndpoints.Register(address, path, handler);
            return Task.CompletedTask;
        });
        OnShutdown(() =>
        {
            registration?.Dispose();
            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// Runs <paramref name="action"/> every <paramref name="interval"/> (on the services' clock) from the moment this
    /// configuration goes live until it is retired: the re-reading of files that hosts and loadbalance do.
    /// </summary>
    public void RunPeriodically(TimeSpan interval, Action action)
    {
        var stopping = new CancellationTokenSource();
        var time = Services.TimeProvider;
        OnStartup(startupToken =>
        {
            _ = RepeatAsync(interval, action, time, stopping.Token);
            return Task.CompletedTask;
        });
        OnShutdown(() =>
        {
            stopping.Cancel();
            return Task.CompletedTask;
        });
    }

    private static async Task RepeatAsync(TimeSpan interval, Action action, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
                action();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The block's plugins built so far; complete once every setup ran (use it from startup hooks).</summary>
    public IReadOnlyList<DnsPlugin> Plugins => _plugins;

    public T? FindPlugin<T>() where T : DnsPlugin
    {
        foreach (var plugin in _plugins)
        {
            if (plugin is T match) return match;
        }
        return null;
    }
}
