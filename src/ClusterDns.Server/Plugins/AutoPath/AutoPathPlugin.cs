using System.Collections.Concurrent;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;
using Prometheus;

namespace ClusterDns.Server.Plugins.AutoPath;

/// <summary>
/// autopath: server-side search path completion, as CoreDNS's. A query for the first name of a client's search walk
/// (<c>name.&lt;ns&gt;.svc.cluster.local</c>) is tried with each later search domain and then bare through the rest
/// of the chain; the first NOERROR reply is sent as a CNAME from the asked name to the found one plus that reply's
/// records, so the client's walk ends after one query. Where no candidate answers, the client gets exactly what the
/// asked name gets without autopath and walks on, so the outcome of its walk never changes.
/// </summary>
public sealed class AutoPathPlugin : DnsPlugin, IClientDependentAnswers
{
    public const string PluginName = "autopath";
    private const int MaxIdleWalks = 64;

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private readonly DnsZoneSet _zones;
    private readonly byte[][]? _search;
    private readonly (string Server, Counter.Child Success)[] _metrics;
    private readonly ConcurrentQueue<AutoPathWalk> _idle = new();
    private IAutoPathProvider? _provider;

    public AutoPathPlugin(AutoPathOptions options, IReadOnlyList<string> servers)
    {
        Options = options;
        _zones = new DnsZoneSet(options.Zones);
        if (options.Search is { } search) _search = SearchPath.Build(search, []);
        _metrics = new (string, Counter.Child)[Math.Max(1, servers.Count)];
        for (var i = 0; i < _metrics.Length; i++)
        {
            var server = servers.Count > 0 ? servers[i] : "";
            _metrics[i] = (server, AutoPathMetrics.Success.WithLabels(server, ""));
        }
    }

    public override string Name => PluginName;
    public AutoPathOptions Options { get; }

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        var options = AutoPathOptions.Parse(directive, context.Zones);
        var plugin = new AutoPathPlugin(options, context.Servers);
        if (options.Provider is { } name) context.OnBlockComplete(() => plugin.UseProvider(FindProvider(context, directive, name)));
        context.OnShutdown(() =>
        {
            plugin.ReleaseIdleWalks();
            return Task.CompletedTask;
        });
        return plugin;
    }

    private static IAutoPathProvider FindProvider(PluginSetupContext context, Directive directive, string name)
    {
        foreach (var plugin in context.Plugins)
        {
            if (plugin.Name != name) continue;
            if (plugin is not IAutoPathProvider provider) throw directive.Error($"plugin '{name}' does not give search paths");
            if (provider.AutoPathUnavailableReason is { } reason) throw directive.Error(reason);
            return provider;
        }
        throw directive.Error($"no plugin '{name}' in this server block to give search paths");
    }

    /// <summary>The plugin that gives each client's search path (<c>@NAME</c>), found once the block is set up.</summary>
    public void UseProvider(IAutoPathProvider provider) => _provider = provider;

    /// <summary>Only a provider's search paths differ by client; a RESOLV-CONF list is the same for everyone.</summary>
    public bool DependsOnClient(DnsRequestContext request) => _provider is not null && TryGetSearch(request, out _);

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        if (!TryGetSearch(request, out var search)) return NextOrFailure(request, writer);
        return WalkAsync(request, writer, search);
    }

    /// <summary>The search path, when the query is the first step of this client's walk (its name ends in the first domain).</summary>
    private bool TryGetSearch(DnsRequestContext request, out byte[][] search)
    {
        search = null!;
        var name = request.QName;
        if (!_zones.Covers(name)) return false;
        var path = _search ?? _provider?.SearchPathFor(request);
        if (path is null || path.Length == 0) return false;
        var first = path[0];
        if (name.Length <= first.Length || !DnsName.IsSubdomain(name, first)) return false;
        search = path;
        return true;
    }

    private async ValueTask<int> WalkAsync(DnsRequestContext request, IDnsResponseWriter writer, byte[][] search)
    {
        var walk = Rent();
        try
        {
            // The asked name first, as the client would: anything but NXDOMAIN is its answer, untouched.
            var first = walk.First;
            first.Clear();
            var rcode = await NextOrFailure(request, first).ConfigureAwait(false);
            if (!first.Written) return rcode;
            if (first.Rcode != DnsRcode.NxDomain)
            {
                writer.Write(request, first.Message);
                return rcode;
            }
            var baseLength = request.QNameLength - search[0].Length;
            for (var i = 1; i <= search.Length; i++)
            {
                if (!walk.Prepare(request, baseLength, i < search.Length ? search[i] : DnsName.Root)) continue;
                walk.Found.Clear();
                await NextOrFailure(walk.Candidate, walk.Found).ConfigureAwait(false);
                // NXDOMAIN walks on, and so does a failure, as a stub resolver does after a SERVFAIL.
                if (walk.Found.Written && walk.Found.Rcode == DnsRcode.NoError) return WriteFound(request, writer, walk);
            }
            writer.Write(request, first.Message);
            return DnsRcode.NxDomain;
        }
        finally
        {
            Return(walk);
        }
    }

    private int WriteFound(DnsRequestContext request, IDnsResponseWriter writer, AutoPathWalk walk)
    {
        var output = request.ResponseBuffer;
        // A reply cut short upstream is not completed with a CNAME (a cache would keep the partial set): TC sends
        // the client to TCP, where this walk runs again over TCP.
        var length = walk.Found.Truncated ? -1 : AutoPathAnswer.Write(request, output, walk.Found.Message, walk.CandidateName);
        if (length < 0) length = AutoPathAnswer.WriteTruncated(request, output);
        else MetricsFor(request).Inc();
        request.CurrentPlugin = PluginName;
        writer.Write(request, output[..length]);
        return DnsRcode.NoError;
    }

    private Counter.Child MetricsFor(DnsRequestContext request)
    {
        var server = request.Zone?.Server;
        foreach (var (name, child) in _metrics)
        {
            if (name == server) return child;
        }
        return _metrics[0].Success;
    }

    private AutoPathWalk Rent() => _idle.TryDequeue(out var walk) ? walk : new AutoPathWalk();

    private void Return(AutoPathWalk walk)
    {
        if (_idle.Count < MaxIdleWalks) _idle.Enqueue(walk);
        else walk.Dispose();
    }

    private void ReleaseIdleWalks()
    {
        while (_idle.TryDequeue(out var walk)) walk.Dispose();
    }
}
