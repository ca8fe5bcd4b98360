using System.Net;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Server.Hosting;

/// <summary>
/// Everything one Corefile sets up: per listening address, the router over its zones; and the hooks that start and
/// retire the plugins' background work. Built whole before it serves, so a bad Corefile never replaces a good one.
/// </summary>
public sealed class ServerConfiguration
{
    private readonly List<Func<CancellationToken, Task>> _startup = [];
    private readonly List<Action> _listening = [];
    private readonly List<Func<Task>> _shutdown = [];

    private ServerConfiguration(CorefileDocument document) => Document = document;

    public CorefileDocument Document { get; }
    /// <summary>Routers keyed by listen address: the bind address (IPv6Any for all) and the port.</summary>
    public Dictionary<ListenAddress, ZoneRouter> Routers { get; } = [];
    public List<IReadinessReporter> ReadinessReporters { get; } = [];
    /// <summary>Every plugin of every block, for tests and for plugins that look for one another.</summary>
    public List<DnsPlugin> Plugins { get; } = [];

    public static ServerConfiguration Build(CorefileDocument document, PluginCatalog catalog, ServerServices services, int defaultPort)
    {
        var configuration = new ServerConfiguration(document);
        var zonesByAddress = new Dictionary<ListenAddress, List<ServerZone>>();
        foreach (var block in document.ServerBlocks)
        {
            var options = new ServerBlockOptions();
            var zones = new List<string>();
            var servers = new List<string>();
            foreach (var key in block.Keys)
            {
                zones.Add(key.Zone);
                // CoreDNS's server label is the listen address (transport://[bind]:port), never the zone.
                servers.Add($"{key.Scheme}://:{key.Port ?? defaultPort}");
            }
            var plugins = new List<DnsPlugin>();
            var blockComplete = new List<Action>();
            var context = new PluginSetupContext(block, zones, servers, options, services, configuration._startup, configuration._listening,
                configuration._shutdown, plugins, blockComplete);
            var byOrder = new List<(int Order, DnsPlugin Plugin)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var directive in block.Directives)
            {
                if (!catalog.TryGet(directive.Name, out var definition))
                {
                    throw new CorefileException(directive.File, directive.Line, null, $"unknown directive '{directive.Name}'");
                }
                if (!seen.Add(directive.Name) && !definition.AllowRepeat)
                {
                    throw directive.Error($"this plugin can only be used once per Server Block");
                }
                DnsPlugin? plugin;
                try
                {
                    plugin = definition.Setup(context, directive);
                }
                catch (CorefileException)
                {
                    throw;
                }
                catch (Exception exception) when (exception is FormatException or ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
                {
                    throw directive.Error(exception.Message);
                }
                if (plugin is null) continue;
                plugins.Add(plugin);
                byOrder.Add((PluginCatalog.IndexOf(directive.Name), plugin));
                if (plugin is IReadinessReporter reporter) configuration.ReadinessReporters.Add(reporter);
            }
            foreach (var check in blockComplete) check();
            byOrder.Sort((a, b) => a.Order.CompareTo(b.Order));
            for (var i = 0; i < byOrder.Count - 1; i++) byOrder[i].Plugin.Next = byOrder[i + 1].Plugin;
            configuration.Plugins.AddRange(plugins);
            IDnsHandler head = byOrder.Count > 0 ? byOrder[0].Plugin : new EmptyPipeline();

            var bindAddresses = options.BindAddresses.Count > 0 ? options.BindAddresses : [IPAddress.IPv6Any];
            for (var k = 0; k < block.Keys.Count; k++)
            {
                var key = block.Keys[k];
                foreach (var bind in bindAddresses)
                {
                    var address = new ListenAddress(bind, key.Port ?? defaultPort);
                    if (!zonesByAddress.TryGetValue(address, out var list)) zonesByAddress[address] = list = [];
                    foreach (var existing in list)
                    {
                        if (existing.Zone == key.Zone)
                        {
                            throw new CorefileException(block.File, block.Line, null, $"zone '{key.Zone}' is defined more than once on port {address.Port}");
                        }
                    }
                    var server = bind.Equals(IPAddress.IPv6Any) ? servers[k] : $"{key.Scheme}://{new IPEndPoint(bind, address.Port)}";
                    list.Add(new ServerZone(key.Zone, server, head, options));
                }
            }
        }
        foreach (var (address, zones) in zonesByAddress) configuration.Routers[address] = new ZoneRouter(zones);
        return configuration;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var action in _startup) await action(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Called by the host once the listeners route to this configuration.</summary>
    public void NotifyListening()
    {
        foreach (var action in _listening) action();
    }

    public async Task StopAsync()
    {
        foreach (var action in _shutdown)
        {
            try
            {
                await action().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Retiring a configuration must finish even if one plugin's cleanup fails.
            }
        }
    }

    /// <summary>A block with no plugin that answers: every query ends in SERVFAIL, as in CoreDNS.</summary>
    private sealed class EmptyPipeline : IDnsHandler
    {
        public string Name => "";
        public ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer) => new(Wire.DnsRcode.ServFail);
    }
}

/// <summary>Where a listener binds: an address (IPv6Any for all, dual-stack) and a port (0 picks a free one).</summary>
public readonly record struct ListenAddress(IPAddress Address, int Port)
{
    public override string ToString() => Address.Equals(IPAddress.IPv6Any) ? $":{Port}" : $"{Address}:{Port}";
}
