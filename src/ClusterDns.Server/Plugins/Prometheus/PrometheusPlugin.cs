using System.Net;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Prometheus;

/// <summary>
/// prometheus: serves <c>/metrics</c> (default <c>localhost:9153</c>) from the default prometheus-net registry and counts
/// every query of its server block after the plugins below it answered: requests by proto, family and type, responses
/// by rcode and by the plugin that wrote them, durations and sizes. Names and labels are CoreDNS's.
/// </summary>
public sealed class PrometheusPlugin : DnsPlugin
{
    public const string PluginName = "prometheus";
    public const string DefaultAddress = "localhost:9153";
    public const string Path = "/metrics";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    public PrometheusPlugin(string address) => Address = address;

    public override string Name => PluginName;
    public string Address { get; }

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        var address = directive.ParseHttpAddress(DefaultAddress);
        foreach (var line in directive.Block)
        {
            throw line.UnknownProperty(PluginName);
        }
        DnsMetrics.EnsureRegistered();
        var plugin = new PrometheusPlugin(address);

        context.ServeHttp(address, Path, ServeAsync);
        var enabled = new List<(string Server, string Zone, string Name)>();
        context.OnStartup(_ =>
        {
            // coredns_plugin_enabled: every plugin in this block's chain, per server and zone (CoreDNS's metrics setup).
            foreach (var server in ServerLabels(context))
            {
                foreach (var zone in context.Zones)
                {
                    foreach (var name in context.Plugins.Select(p => p.Name).Distinct())
                    {
                        DnsMetrics.AddEnabled(server, zone, name);
                        enabled.Add((server, zone, name));
                    }
                }
            }
            return Task.CompletedTask;
        });
        context.OnShutdown(() =>
        {
            foreach (var (server, zone, name) in enabled) DnsMetrics.RemoveEnabled(server, zone, name);
            enabled.Clear();
            return Task.CompletedTask;
        });
        return plugin;
    }

    /// <summary>The block's server labels with its bind addresses, as the engine labels its zones.</summary>
    private static IEnumerable<string> ServerLabels(PluginSetupContext context)
    {
        foreach (var server in context.Servers.Distinct())
        {
            if (context.Options.BindAddresses.Count == 0)
            {
                yield return server;
                continue;
            }
            var scheme = server[..server.IndexOf("://", StringComparison.Ordinal)];
            var port = int.Parse(server[(server.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            foreach (var bind in context.Options.BindAddresses) yield return $"{scheme}://{new IPEndPoint(bind, port)}";
        }
    }

    private static async Task ServeAsync(HttpListenerContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await global::Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(context.Response.OutputStream).ConfigureAwait(false);
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        var pending = NextOrFailure(request, writer);
        if (!pending.IsCompletedSuccessfully) return AwaitAsync(pending, request);
        var rcode = pending.Result;
        Record(request, rcode);
        return new ValueTask<int>(rcode);
    }

    private static async ValueTask<int> AwaitAsync(ValueTask<int> pending, DnsRequestContext request)
    {
        var rcode = await pending.ConfigureAwait(false);
        Record(request, rcode);
        return rcode;
    }

    private static void Record(DnsRequestContext request, int rcode)
    {
        if (request.Zone is not { } zone) return;
        var metrics = ZoneMetrics.For(zone);
        if (request.ResponseWritten)
        {
            metrics.Report(request, request.ResponseRcode, request.RespondingPlugin ?? "", request.ResponseLength);
        }
        else
        {
            // Nothing written yet: the server will answer with the returned failure rcode (SERVFAIL if it claimed
            // success), and no plugin is its writer. CoreDNS reports such a response with size 0.
            metrics.Report(request, DnsRcode.IsClientWriteRequired(rcode) ? rcode : DnsRcode.ServFail, "", 0);
        }
    }
}
