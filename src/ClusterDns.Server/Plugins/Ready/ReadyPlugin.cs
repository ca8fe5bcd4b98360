using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Server.Plugins.Ready;

public enum ReadyMonitor { UntilReady, Continuously }

public sealed record ReadyOptions(string Address, ReadyMonitor Monitor);

/// <summary>
/// ready: <c>GET /ready</c> answers 200 <c>OK</c> once every plugin of the serving configuration that reports readiness
/// is ready and the DNS listeners are bound; else 503 with the names of those that are not, sorted and comma
/// separated, as CoreDNS does (<c>Starting</c> when only the listeners are missing). From the
/// moment shutdown begins it answers 503 <c>Shutting down</c>, so Kubernetes stops sending traffic during lameduck.
/// With <c>monitor until-ready</c> (the default) a plugin that was ready once is not asked again.
/// </summary>
public sealed class ReadyPlugin
{
    public const string PluginName = "ready";
    public const string DefaultAddress = ":8181";
    public const string Path = "/ready";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    // Reporters seen ready once; weak so retired configurations' plugins can go.
    private static readonly ConditionalWeakTable<IReadinessReporter, object> SeenReady = [];
    private static readonly object Seen = new();

    private readonly ServerServices _services;
    private readonly ReadyOptions _options;

    private ReadyPlugin(ServerServices services, ReadyOptions options)
    {
        _services = services;
        _options = options;
    }

    private static DnsPlugin? Setup(PluginSetupContext context, Directive directive)
    {
        var plugin = new ReadyPlugin(context.Services, ParseOptions(directive));
        context.ServeHttp(plugin._options.Address, Path, plugin.ServeAsync);
        return null;
    }

    public static ReadyOptions ParseOptions(Directive directive)
    {
        var address = directive.ParseHttpAddress(DefaultAddress);
        var monitor = ReadyMonitor.UntilReady;
        foreach (var line in directive.Block)
        {
            if (line.Name != "monitor") throw line.UnknownProperty(PluginName);
            line.ExpectArgumentCount(1, 1);
            monitor = line.Arguments[0].Text switch
            {
                "until-ready" => ReadyMonitor.UntilReady,
                "continuously" => ReadyMonitor.Continuously,
                _ => throw line.Error($"invalid monitor mode '{line.Arguments[0].Text}': expected until-ready or continuously"),
            };
        }
        return new ReadyOptions(address, monitor);
    }

    /// <summary>The names of the plugins not ready yet, sorted and without repeats; empty when all are.</summary>
    public static IReadOnlyList<string> NotReady(IEnumerable<IReadinessReporter> reporters, ReadyMonitor monitor)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var reporter in reporters)
        {
            if (monitor == ReadyMonitor.UntilReady && SeenReady.TryGetValue(reporter, out _)) continue;
            if (reporter.IsReady)
            {
                if (monitor == ReadyMonitor.UntilReady) SeenReady.AddOrUpdate(reporter, Seen);
                continue;
            }
            names.Add(reporter.Name);
        }
        return [.. names];
    }

    private async Task ServeAsync(HttpListenerContext context)
    {
        int status;
        string body;
        if (_services.IsShuttingDown)
        {
            (status, body) = (503, "Shutting down");
        }
        else
        {
            var notReady = NotReady(_services.ReadinessReporters, _options.Monitor);
            if (notReady.Count > 0) (status, body) = (503, string.Join(',', notReady));
            else if (!_services.IsServing) (status, body) = (503, "Starting");
            else (status, body) = (200, "OK");
        }
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
    }
}
