using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Plugins.Hosts;

/// <summary>A hosts block, parsed once.</summary>
public sealed record HostsOptions
{
    public string Path { get; init; } = "/etc/hosts";
    public required IReadOnlyList<string> Origins { get; init; }
    public IReadOnlyList<HostsEntry> Inline { get; init; } = [];
    public uint Ttl { get; init; } = 3600;
    public bool NoReverse { get; init; }
    public TimeSpan Reload { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Zones for which a miss goes to the next plugin; null = fallthrough off.</summary>
    public IReadOnlyList<string>? Fallthrough { get; init; }

    public static HostsOptions Parse(Directive directive, IReadOnlyList<string> blockZones)
    {
        var args = directive.Arguments;
        var options = new HostsOptions { Origins = blockZones };
        if (args.Count > 0) options = options with { Path = args[0].Text, Origins = directive.ParseZones(1, blockZones) };
        var inline = new List<HostsEntry>();
        foreach (var property in directive.Block)
        {
            var p = property.Arguments;
            switch (property.Name)
            {
                case "ttl":
                    property.ExpectArgumentCount(1, 1);
                    options = options with { Ttl = (uint)property.ParseInt(p[0], 1, int.MaxValue) };
                    break;
                case "no_reverse":
                    property.ExpectNoArguments();
                    options = options with { NoReverse = true };
                    break;
                case "reload":
                    property.ExpectArgumentCount(1, 1);
                    var reload = property.ParseDuration(p[0]);
                    if (reload < TimeSpan.Zero) throw property.Error($"invalid reload duration '{p[0].Text}'");
                    options = options with { Reload = reload };
                    break;
                case "fallthrough":
                    options = options with { Fallthrough = property.ParseZones(0, []) };
                    break;
                default:
                    // Any other line is an inline hosts entry: IP name...
                    var fields = new List<string> { property.Name };
                    foreach (var token in p) fields.Add(token.Text);
                    if (!HostsFileParser.TryParseFields(fields, options.Origins, out var entry, out var error))
                    {
                        throw property.Error($"invalid inline hosts entry: {error}");
                    }
                    inline.Add(entry);
                    break;
            }
        }
        return options with { Inline = inline };
    }
}

/// <summary>
/// hosts: answers A, AAAA and PTR from a file in /etc/hosts format and from inline entries, re-reading the file when
/// it changes, as CoreDNS's hosts does.
/// </summary>
public sealed partial class HostsPlugin : DnsPlugin
{
    public const string PluginName = "hosts";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private static readonly byte[] InAddrArpa = DnsName.Encode("in-addr.arpa.");
    private static readonly byte[] Ip6Arpa = DnsName.Encode("ip6.arpa.");

    private readonly DnsZoneSet _origins;
    private readonly DnsZoneSet? _fallthrough;
    private readonly ILogger _logger;
    private volatile HostsTable _table = HostsTable.Empty;
    private (DateTime Modified, long Length) _fileStamp;

    public HostsPlugin(HostsOptions options, ILogger logger)
    {
        Options = options;
        _logger = logger;
        _origins = new DnsZoneSet(options.Origins);
        _fallthrough = options.Fallthrough is null ? null : new DnsZoneSet(options.Fallthrough.Count == 0 ? ["."] : options.Fallthrough);
        ReloadIfChanged(force: true);
    }

    public override string Name => PluginName;
    public HostsOptions Options { get; }
    public HostsTable Table => _table;

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        var options = HostsOptions.Parse(directive, context.Zones);
        var plugin = new HostsPlugin(options, context.Services.LoggerFactory.CreateLogger("ClusterDns.Plugins.Hosts"));
        if (options.Reload > TimeSpan.Zero) context.RunPeriodically(options.Reload, () => plugin.ReloadIfChanged(force: false));
        return plugin;
    }

    /// <summary>Re-reads the file when its modification time or size changed; inline entries always stay.</summary>
    public void ReloadIfChanged(bool force)
    {
        var info = new FileInfo(Options.Path);
        (DateTime, long) stamp = info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1);
        if (!force && stamp == _fileStamp) return;
        List<HostsEntry> fileEntries = [];
        if (info.Exists)
        {
            try
            {
                fileEntries = HostsFileParser.Parse(File.ReadAllText(Options.Path), Options.Origins);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                LogReadFailed(_logger, Options.Path, exception.Message);
                return;
            }
        }
        _fileStamp = stamp;
        var table = new HostsTable([.. Options.Inline, .. fileEntries]);
        _table = table;
        HostsMetrics.Entries.WithLabels(Options.Path).Set(table.Count);
        HostsMetrics.ReloadTimestamp.WithLabels(Options.Path).Set(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        var name = request.QName;
        var qtype = request.QType;
        if (!_origins.Covers(name) && qtype != DnsType.PTR) return NextOrFailure(request, writer);
        var table = _table;
        var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NoError, authoritative: true);
        var answers = 0;
        switch (qtype)
        {
            case DnsType.PTR:
            {
                var targets = Options.NoReverse || !(DnsName.IsSubdomain(name, InAddrArpa) || DnsName.IsSubdomain(name, Ip6Arpa)) ? null : table.LookupReverse(name);
                // A reverse name we do not know always goes on, whatever fallthrough says (CoreDNS).
                if (targets is null) return NextOrFailure(request, writer);
                foreach (var target in targets) builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, DnsType.PTR, Options.Ttl, target);
                answers = targets.Count;
                break;
            }
            case DnsType.A:
            case DnsType.AAAA:
            {
                var addresses = table.Lookup(name);
                if (addresses is not null)
                {
                    var list = qtype == DnsType.A ? addresses.V4 : addresses.V6;
                    foreach (var rdata in list) builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, qtype, Options.Ttl, rdata);
                    answers = list.Count;
                }
                break;
            }
        }
        if (answers == 0)
        {
            if (_fallthrough is not null && _fallthrough.Covers(name)) return NextOrFailure(request, writer);
            // Without an SOA there is no proper NXDOMAIN to give: CoreDNS answers SERVFAIL for a name it does not have.
            if (table.Lookup(name) is null) return new ValueTask<int>(DnsRcode.ServFail);
        }
        var length = builder.Finish();
        writer.Write(request, request.ResponseBuffer[..length]);
        return new ValueTask<int>(DnsRcode.NoError);
    }

    [LoggerMessage(EventId = 600, Level = LogLevel.Warning, Message = "hosts: could not read {Path}: {Reason}")]
    private static partial void LogReadFailed(ILogger logger, string path, string reason);
}
