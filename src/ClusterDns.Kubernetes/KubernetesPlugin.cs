using System.Net;
using System.Collections.Concurrent;
using ClusterDns.Kubernetes.Records;
using ClusterDns.Server.Plugins.AutoPath;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Kubernetes;

/// <summary>
/// kubernetes: authoritative answers for the cluster's Services, endpoints and Pods from a lock-free index of ready
/// wire answers, SERVFAIL until the informers synced, NXDOMAIN/NODATA with the zone's SOA, fallthrough on NXDOMAIN.
/// </summary>
public sealed class KubernetesPlugin : DnsPlugin, IReadinessReporter, IZoneDataVersion, IAutoPathProvider
{
    /// <summary>Where the host search domains come from, which CoreDNS appends to a Pod's search path for autopath.</summary>
    public const string HostResolvConf = "/etc/resolv.conf";

    public const string PluginName = "kubernetes";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private readonly KubernetesOptions _options;
    private readonly KubernetesController _controller;
    private readonly byte[][] _zones;
    private readonly bool[] _fallthrough;
    private readonly byte[][] _forwardZones;
    // Namespace to its search path in each forward zone; built on first use, then read without a lock.
    private readonly ConcurrentDictionary<string, byte[][][]> _searchPaths = new(StringComparer.Ordinal);

    public KubernetesPlugin(KubernetesOptions options, KubernetesController controller)
    {
        _options = options;
        _controller = controller;
        _zones = new byte[options.Zones.Count][];
        _fallthrough = new bool[options.Zones.Count];
        for (var i = 0; i < _zones.Length; i++)
        {
            _zones[i] = DnsName.Encode(options.Zones[i]);
        }
        _forwardZones = [.. options.ForwardZones.Select(zone => DnsName.Encode(zone))];
        FallthroughZones = options.Fallthrough is null ? null : [.. options.Fallthrough.Select(zone => DnsName.Encode(zone))];
    }

    private byte[][]? FallthroughZones { get; }

    public override string Name => PluginName;

    string IReadinessReporter.Name => PluginName;

    public bool IsReady => _controller.IsSynced;

    public IReadOnlyList<string> Zones => _options.Zones;

    public long Version => _controller.Version;

    public KubernetesOptions Options => _options;

    public KubernetesController Controller => _controller;

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        var options = KubernetesSetup.Parse(directive, context.Zones);
        if (options.Pods == PodMode.Verified && File.Exists(HostResolvConf))
        {
            try
            {
                options = options with { HostSearchDomains = Server.Hosting.ResolvConf.ReadSearch(HostResolvConf) };
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException)
            {
                // As CoreDNS: an unreadable resolv.conf only leaves the host domains out of autopath's search path.
            }
        }
        var services = context.Services;
        var controller = new KubernetesController(options, services.LoggerFactory, services.TimeProvider, services.Random);
        var logger = services.LoggerFactory.CreateLogger(KubernetesLog.Category);
        var defaults = services.GetExtension<KubernetesConnectionDefaults>();
        context.OnStartup(async cancellationToken =>
        {
            k8s.KubernetesClientConfiguration configuration;
            try
            {
                configuration = KubernetesController.BuildConfiguration(options, defaults);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                throw directive.Error("unable to configure the Kubernetes API connection: " + exception.Message);
            }
            controller.Start(configuration);
            // As CoreDNS: hold the start for at most startup_timeout while the informers sync, then serve regardless
            // (names in our zones answer SERVFAIL until the sync completes).
            var deadline = services.TimeProvider.GetTimestamp();
            var lastLog = TimeSpan.FromSeconds(-1);
            while (!controller.IsSynced)
            {
                var elapsed = services.TimeProvider.GetElapsedTime(deadline);
                if (elapsed >= options.StartupTimeout)
                {
                    KubernetesLog.StartingUnsynced(logger);
                    break;
                }
                if (elapsed - lastLog >= TimeSpan.FromMilliseconds(500))
                {
                    KubernetesLog.WaitingForApi(logger);
                    lastLog = elapsed;
                }
                try
                {
                    await controller.Synced.WaitAsync(TimeSpan.FromMilliseconds(100), services.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }
            }
        });
        context.OnShutdown(() => controller.DisposeAsync().AsTask());
        return new KubernetesPlugin(options, controller);
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        var qname = request.QName;
        var zoneIndex = MatchZone(qname);
        if (zoneIndex < 0) return NextOrFailure(request, writer);
        if (!_controller.IsSynced) return new ValueTask<int>(DnsRcode.ServFail);
        var zone = _controller.ZoneRecords[zoneIndex];
        var qtype = request.QType;

        if (qname.Length == zone.Wire.Length)
        {
            if (qtype == DnsType.SOA) return Answer(request, writer, zone.SoaAnswer, 1, [], 0);
            if (qtype == DnsType.NS) return Answer(request, writer, zone.NsAnswer, 1, zone.NsAdditional, zone.NsAdditionalCount);
            return Negative(request, writer, zone, DnsRcode.NoError);
        }

        if (_controller.Index.TryGet(qname, out var answers))
        {
            if (PackedAnswers.TryFind(answers, qtype, out var set) || PackedAnswers.TryFind(answers, DnsType.CNAME, out set))
                return Answer(request, writer, set.Answer, set.Count, set.Additional, set.AdditionalCount);
            return Negative(request, writer, zone, DnsRcode.NoError);
        }

        if (_options.Pods == PodMode.Insecure && IsInsecurePodName(qname, zone.Wire.Length, out var address, out var addressLength))
        {
            var type = addressLength == 16 ? DnsType.AAAA : DnsType.A;
            if (qtype != type) return Negative(request, writer, zone, DnsRcode.NoError);
            var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NoError, authoritative: true);
            builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, type, _options.Ttl, address[..addressLength]);
            var length = builder.Finish();
            writer.Write(request, request.ResponseBuffer[..length]);
            return new ValueTask<int>(DnsRcode.NoError);
        }

        if (FallthroughZones is { } fallthrough && Falls(qname, fallthrough)) return NextOrFailure(request, writer);
        return Negative(request, writer, zone, DnsRcode.NxDomain);
    }

    public string? AutoPathUnavailableReason => _options.Pods == PodMode.Verified
        ? null
        : "autopath @kubernetes needs 'pods verified' in the kubernetes block (the client's namespace comes from its Pod)";

    /// <summary>
    /// The search path a Pod's resolv.conf has, as CoreDNS builds it: <c>&lt;ns&gt;.svc.&lt;zone&gt;</c>,
    /// <c>svc.&lt;zone&gt;</c>, <c>&lt;zone&gt;</c> for the zone of the query, then the host's search domains.
    /// </summary>
    public byte[][]? SearchPathFor(DnsRequestContext request)
    {
        var qname = request.QName;
        for (var i = 0; i < _forwardZones.Length; i++)
        {
            if (!DnsName.IsSubdomain(qname, _forwardZones[i])) continue;
            if (!ClientAddress.TryGetKey(request.RemoteSocketAddress, out var address)) return null;
            return _controller.PodAddresses.TryGetNamespace(address, out var ns) ? SearchPathsOf(ns)[i] : null;
        }
        return null;
    }

    private byte[][][] SearchPathsOf(string ns)
    {
        if (_searchPaths.TryGetValue(ns, out var paths)) return paths;
        var zones = _options.ForwardZones;
        paths = new byte[zones.Count][][];
        for (var i = 0; i < paths.Length; i++)
        {
            var zone = zones[i] == "." ? "" : zones[i];
            paths[i] = SearchPath.Build([$"{ns}.svc.{zone}", $"svc.{zone}", zones[i]], _options.HostSearchDomains);
        }
        return _searchPaths.GetOrAdd(ns, paths);
    }

    private int MatchZone(ReadOnlySpan<byte> qname)
    {
        int best = -1, bestLength = -1;
        for (var i = 0; i < _zones.Length; i++)
        {
            if (_zones[i].Length > bestLength && DnsName.IsSubdomain(qname, _zones[i]))
            {
                best = i;
                bestLength = _zones[i].Length;
            }
        }
        return best;
    }

    private static bool Falls(ReadOnlySpan<byte> qname, byte[][] zones)
    {
        if (zones.Length == 0) return true;
        foreach (var zone in zones)
        {
            if (DnsName.IsSubdomain(qname, zone)) return true;
        }
        return false;
    }

    private static ValueTask<int> Answer(DnsRequestContext request, IDnsResponseWriter writer, ReadOnlySpan<byte> answer, int count,
        ReadOnlySpan<byte> additional, int additionalCount)
    {
        var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NoError, authoritative: true);
        if (request.QuestionEnd + answer.Length + additional.Length > DnsRequestContext.MaxMessageSize - 512)
        {
            additional = default;
            additionalCount = 0;
        }
        if (request.QuestionEnd + answer.Length > DnsRequestContext.MaxMessageSize - 512)
        {
            // More than a DNS message holds (a headless Service with thousands of endpoints): say so with TC.
            var truncated = builder.Finish();
            request.ResponseBuffer[2] |= 0x02;
            writer.Write(request, request.ResponseBuffer[..truncated]);
            return new ValueTask<int>(DnsRcode.NoError);
        }
        builder.AppendRecords(answer, count);
        if (additionalCount > 0)
        {
            builder.StartSection(DnsSection.Additional);
            builder.AppendRecords(additional, additionalCount);
        }
        var length = builder.Finish();
        writer.Write(request, request.ResponseBuffer[..length]);
        return new ValueTask<int>(DnsRcode.NoError);
    }

    /// <summary>NXDOMAIN or NODATA, with the zone's SOA in authority (its TTL is min(ttl, minimum) = ttl).</summary>
    private static ValueTask<int> Negative(DnsRequestContext request, IDnsResponseWriter writer, ZoneRecords zone, int rcode)
    {
        var builder = new DnsMessageBuilder(request.ResponseBuffer, request, rcode, authoritative: true);
        builder.StartSection(DnsSection.Authority);
        builder.AppendRecords(zone.SoaAuthority, 1);
        var length = builder.Finish();
        writer.Write(request, request.ResponseBuffer[..length]);
        return new ValueTask<int>(rcode);
    }

    /// <summary>
    /// <c>&lt;dashed-ip&gt;.&lt;ns&gt;.pod.&lt;zone&gt;</c> in a namespace that exists (its <c>&lt;ns&gt;.pod.&lt;zone&gt;</c> is in the index):
    /// 10-244-1-10 is IPv4; anything else has its dashes read as colons (fd00--1).
    /// </summary>
    private bool IsInsecurePodName(ReadOnlySpan<byte> qname, int zoneLength, out InlineAddress address, out int length)
    {
        address = default;
        length = 0;
        if (qname.Length <= zoneLength || qname[0] == 0) return false;
        var first = qname.Slice(1, qname[0]);
        var parent = qname[(1 + qname[0])..];
        if (parent.Length <= zoneLength || DnsName.CountLabels(parent) - DnsName.CountLabels(qname[^zoneLength..]) != 2) return false;
        var podLabel = parent[(1 + parent[0])..];
        if (podLabel.Length < 4 || !podLabel[..4].SequenceEqual("\u0003pod"u8)) return false;
        if (!_controller.Index.TryGet(parent, out _)) return false;
        Span<char> text = stackalloc char[64];
        if (first.Length > 63) return false;
        var dashes = 0;
        var doubleDash = false;
        for (var i = 0; i < first.Length; i++)
        {
            var c = (char)first[i];
            if (c == '-')
            {
                dashes++;
                if (i > 0 && first[i - 1] == '-') doubleDash = true;
            }
            text[i] = c;
        }
        var chars = text[..first.Length];
        if (dashes == 3 && !doubleDash)
        {
            chars.Replace('-', '.');
            Span<byte> v4 = address;
            if (!TryParseIPv4(chars, v4)) return false;
            length = 4;
            return true;
        }
        chars.Replace('-', ':');
        if (!IPAddress.TryParse(chars, out var parsed) || parsed.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return false;
        parsed.TryWriteBytes(address, out length);
        return true;
    }

    private static bool TryParseIPv4(ReadOnlySpan<char> text, Span<byte> destination)
    {
        var part = 0;
        var value = -1;
        foreach (var c in text)
        {
            if (c == '.')
            {
                if (value < 0 || part >= 3) return false;
                destination[part++] = (byte)value;
                value = -1;
                continue;
            }
            if (!char.IsAsciiDigit(c)) return false;
            value = (value < 0 ? 0 : value * 10) + (c - '0');
            if (value > 255) return false;
        }
        if (value < 0 || part != 3) return false;
        destination[3] = (byte)value;
        return true;
    }

    [System.Runtime.CompilerServices.InlineArray(16)]
    private struct InlineAddress
    {
        private byte _element;
    }
}
