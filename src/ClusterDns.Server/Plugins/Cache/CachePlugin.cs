using System.Buffers.Binary;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Plugins.Cache;

/// <summary>
/// cache: keeps answers (positive and negative) for their TTL and serves them from wire bytes, as CoreDNS's cache
/// does, plus one promise CoreDNS cannot make: an answer under a zone whose live data changed (kubernetes) is not
/// served again, whatever its TTL.
/// </summary>
public sealed partial class CachePlugin : DnsPlugin
{
    public const string PluginName = "cache";
    private const int KeyCapacity = DnsName.MaxWireLength + 1 + 5;

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private readonly DnsZoneSet _zones;
    private readonly DnsZoneSet _disableSuccess;
    private readonly DnsZoneSet _disableDenial;
    private readonly CacheMetrics.ServerSet[] _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private (IZoneDataVersion Source, byte[] Zone)[] _versionSources = [];
    private IClientDependentAnswers[] _clientDependent = [];

    public CachePlugin(CacheOptions options, IReadOnlyList<string> servers, TimeProvider time, ILogger logger)
    {
        Options = options;
        _time = time;
        _logger = logger;
        _zones = new DnsZoneSet(options.Zones);
        _disableSuccess = new DnsZoneSet(options.DisableSuccessZones);
        _disableDenial = new DnsZoneSet(options.DisableDenialZones);
        Success = new CacheStore(options.SuccessCapacity);
        Denial = new CacheStore(options.DenialCapacity);
        var zonesLabel = string.Join(',', options.Zones);
        _metrics = new CacheMetrics.ServerSet[Math.Max(1, servers.Count)];
        for (var i = 0; i < _metrics.Length; i++) _metrics[i] = new CacheMetrics.ServerSet(servers.Count > 0 ? servers[i] : "", zonesLabel);
    }

    public override string Name => PluginName;
    public CacheOptions Options { get; }
    public CacheStore Success { get; }
    public CacheStore Denial { get; }

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        var options = CacheOptions.Parse(directive, context.Zones);
        var plugin = new CachePlugin(options, context.Servers, context.Services.TimeProvider,
            context.Services.LoggerFactory.CreateLogger("ClusterDns.Plugins.Cache"));
        context.OnStartup(_ =>
        {
            // The block's plugins are all built by now: find those whose answers follow live data or the client.
            var sources = new List<IZoneDataVersion>();
            var clientDependent = new List<IClientDependentAnswers>();
            foreach (var other in context.Plugins)
            {
                if (other is IZoneDataVersion source) sources.Add(source);
                if (other is IClientDependentAnswers dependent) clientDependent.Add(dependent);
            }
            plugin.UseVersionSources(sources);
            plugin.UseClientDependentAnswers(clientDependent);
            return Task.CompletedTask;
        });
        return plugin;
    }

    /// <summary>The plugins whose zone data versions invalidate entries (found in the block at startup).</summary>
    public void UseVersionSources(IEnumerable<IZoneDataVersion> sources)
    {
        var list = new List<(IZoneDataVersion, byte[])>();
        foreach (var source in sources)
        {
            foreach (var zone in source.Zones) list.Add((source, DnsName.Encode(zone)));
        }
        _versionSources = [.. list];
    }

    /// <summary>
    /// The plugins after this one whose answers depend on the client (autopath): their answers get keys of their own,
    /// so a Pod's autopath answer never reaches a client that would walk its search path instead (CoreDNS #3765).
    /// </summary>
    public void UseClientDependentAnswers(IEnumerable<IClientDependentAnswers> plugins) => _clientDependent = [.. plugins];

    private CacheMetrics.ServerSet MetricsFor(DnsRequestContext request)
    {
        var server = request.Zone?.Server;
        var metrics = _metrics;
        foreach (var set in metrics)
        {
            if (ReferenceEquals(set.Server, server)) return set;
        }
        foreach (var set in metrics)
        {
            if (set.Server == server) return set;
        }
        return metrics[0];
    }

    private int WriteKey(DnsRequestContext request, Span<byte> key)
    {
        var name = request.QName;
        name.CopyTo(key);
        var position = name.Length;
        BinaryPrimitives.WriteUInt16BigEndian(key[position..], request.QType);
        BinaryPrimitives.WriteUInt16BigEndian(key[(position + 2)..], request.QClass);
        key[position + 4] = (byte)((request.DnssecOk ? 1 : 0) | (request.CheckingDisabled ? 2 : 0) | (DependsOnClient(request) ? 4 : 0));
        return position + 5;
    }

    private bool DependsOnClient(DnsRequestContext request)
    {
        foreach (var plugin in _clientDependent)
        {
            if (plugin.DependsOnClient(request)) return true;
        }
        return false;
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        if (!_zones.Covers(request.QName)) return NextOrFailure(request, writer);
        var metrics = MetricsFor(request);
        metrics.RequestCount.Inc();
        Span<byte> key = stackalloc byte[KeyCapacity];
        key = key[..WriteKey(request, key)];

        var now = _time.GetTimestamp();
        if ((Success.TryGet(key, out var entry) || Denial.TryGet(key, out entry)) && entry.IsCurrent)
        {
            var age = (long)_time.GetElapsedTime(entry.StoredAt, now).TotalSeconds;
            if (age < entry.Ttl)
            {
                (entry.Denial ? metrics.HitsDenial : metrics.HitsSuccess).Inc();
                WriteEntry(request, writer, entry, (uint)(entry.Ttl - age));
                if (Options.PrefetchAmount > 0) MaybePrefetch(request, entry, entry.Ttl - age, now, metrics);
                return new ValueTask<int>(entry.Rcode);
            }
            if (Options.ServeStale > TimeSpan.Zero && age < entry.Ttl + Options.ServeStale.TotalSeconds)
            {
                if (Options.StaleMode == StaleRefreshMode.Immediate)
                {
                    metrics.ServedStaleCount.Inc();
                    WriteEntry(request, writer, entry, 0);
                    if (entry.TryStartRefresh()) StartRefresh(request, entry);
                    return new ValueTask<int>(entry.Rcode);
                }
                return VerifyThenServeStaleAsync(request, writer, entry, metrics);
            }
        }
        metrics.MissCount.Inc();
        return MissAsync(request, writer);
    }

    private ValueTask<int> MissAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        var capture = new StoringWriter(this, writer, request, holdBack: false);
        return NextOrFailure(request, capture);
    }

    /// <summary>serve_stale verify: ask the source first; only when it fails is the expired entry served.</summary>
    private async ValueTask<int> VerifyThenServeStaleAsync(DnsRequestContext request, IDnsResponseWriter writer, CacheEntry entry, CacheMetrics.ServerSet metrics)
    {
        var capture = new StoringWriter(this, writer, request, holdBack: true);
        var rcode = await NextOrFailure(request, capture).ConfigureAwait(false);
        var held = capture.Held;
        if (held is not null && (held[3] & 0x0F) != DnsRcode.ServFail)
        {
            writer.Write(request, held);
            return held[3] & 0x0F;
        }
        metrics.ServedStaleCount.Inc();
        WriteEntry(request, writer, entry, 0);
        _ = rcode;
        return entry.Rcode;
    }

    private void WriteEntry(DnsRequestContext request, IDnsResponseWriter writer, CacheEntry entry, uint ttl, bool capOnly = false)
    {
        var buffer = request.ResponseBuffer;
        var message = entry.Message;
        message.CopyTo(buffer);
        BinaryPrimitives.WriteUInt16BigEndian(buffer, request.Id);
        buffer[2] = (byte)((buffer[2] & 0xFE) | (request.RecursionDesired ? 1 : 0));
        request.Question.CopyTo(buffer[12..]);
        if (!Options.KeepTtl)
        {
            foreach (var offset in entry.TtlOffsets)
            {
                var value = capOnly ? Math.Min(ttl, BinaryPrimitives.ReadUInt32BigEndian(buffer[offset..])) : ttl;
                BinaryPrimitives.WriteUInt32BigEndian(buffer[offset..], value);
            }
        }
        writer.Write(request, buffer[..message.Length]);
    }

    private void MaybePrefetch(DnsRequestContext request, CacheEntry entry, long remaining, long now, CacheMetrics.ServerSet metrics)
    {
        var window = (long)(Options.PrefetchWindow.TotalSeconds * _time.TimestampFrequency);
        var hits = entry.RecordHit(now, window);
        var threshold = (long)Math.Ceiling(Options.PrefetchPercentage / 100.0 * entry.Ttl);
        if (hits < Options.PrefetchAmount || remaining > threshold) return;
        if (!entry.TryStartRefresh()) return;
        metrics.PrefetchCount.Inc();
        StartRefresh(request, entry);
    }

    /// <summary>Resolves the query again in the background (prefetch, stale refresh) and stores the fresh answer.</summary>
    private void StartRefresh(DnsRequestContext request, CacheEntry entry)
    {
        // The request context is pooled by the transport: the background work needs a copy of its own.
        var copy = new DnsRequestContext();
        request.Query.CopyTo(copy.QueryBuffer);
        copy.Reset(request.QueryLength, request.Transport, CopyOf(request.RemoteSocketAddress), request.LocalPort, CancellationToken.None);
        if (copy.Parse() != DnsRequestContext.ParseResult.Ok)
        {
            copy.Dispose();
            entry.EndRefresh();
            return;
        }
        copy.Zone = request.Zone;
        _ = Task.Run(async () =>
        {
            try
            {
                await NextOrFailure(copy, new StoringWriter(this, null, copy, holdBack: false)).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                LogRefreshFailed(_logger, copy.Name, exception);
            }
            finally
            {
                entry.EndRefresh();
                copy.Dispose();
            }
        });
    }

    /// <summary>The client's address, copied: the transport reuses its own for the next query.</summary>
    private static System.Net.SocketAddress? CopyOf(System.Net.SocketAddress? address)
    {
        if (address is null) return null;
        var copy = new System.Net.SocketAddress(address.Family, address.Size);
        address.Buffer.Span.CopyTo(copy.Buffer.Span);
        return copy;
    }

    /// <summary>The version of the live data behind <paramref name="name"/> now, taken before the answer is produced.</summary>
    private IZoneDataVersion? SourceFor(ReadOnlySpan<byte> name, out long version)
    {
        foreach (var (source, zone) in _versionSources)
        {
            if (DnsName.IsSubdomain(name, zone))
            {
                version = source.Version;
                return source;
            }
        }
        version = 0;
        return null;
    }

    private CacheEntry? Store(DnsRequestContext request, ReadOnlySpan<byte> response, IZoneDataVersion? source, long version)
    {
        var metrics = MetricsFor(request);
        var result = CacheResponseAnalyzer.Analyze(response, request.Question.Length);
        if (result.Kind == CacheResponseKind.Uncacheable) return null;
        // The reply must be to this question (CoreDNS counts a mismatch as a drop).
        Span<byte> name = stackalloc byte[DnsName.MaxWireLength + 1];
        if (!DnsName.TryRead(response, 12, name, out var nameLength, out var next) || !name[..nameLength].SequenceEqual(request.QName)
            || DnsName.ReadUInt16(response, next) != request.QType)
        {
            metrics.DropCount.Inc();
            return null;
        }
        TimeSpan ttl;
        CacheStore store;
        switch (result.Kind)
        {
            case CacheResponseKind.Success:
                if (_disableSuccess.Covers(request.QName)) return null;
                ttl = Clamp(result.MinTtl, Options.SuccessMinTtl, Options.SuccessMaxTtl);
                store = Success;
                break;
            case CacheResponseKind.ServerFailure:
                if (Options.ServFailTtl <= TimeSpan.Zero || _disableDenial.Covers(request.QName)) return null;
                ttl = Options.ServFailTtl;
                store = Denial;
                break;
            default:
                if (_disableDenial.Covers(request.QName)) return null;
                ttl = Clamp(result.MinTtl, Options.DenialMinTtl, Options.DenialMaxTtl);
                store = Denial;
                break;
        }
        var seconds = (int)Math.Min(int.MaxValue, ttl.TotalSeconds);
        if (seconds <= 0) return null;
        // Serve-stale keeps a SERVFAIL from replacing a good answer still within its stale window.
        Span<byte> key = stackalloc byte[KeyCapacity];
        key = key[..WriteKey(request, key)];
        if (result.Kind == CacheResponseKind.ServerFailure && Options.ServeStale > TimeSpan.Zero && Success.TryGet(key, out _)) return null;
        var entry = new CacheEntry
        {
            Message = result.Message,
            TtlOffsets = result.TtlOffsets,
            StoredAt = _time.GetTimestamp(),
            Ttl = seconds,
            Rcode = response[3] & 0x0F,
            Denial = store == Denial,
            Source = source,
            SourceVersion = version,
        };
        // One key lives in one store: a name that turned from positive to negative must not leave the old answer behind.
        (store == Success ? Denial : Success).Remove(key);
        var evicted = store.Set(key, entry);
        foreach (var set in _metrics)
        {
            if (evicted > 0) (store == Success ? set.EvictionsSuccess : set.EvictionsDenial).Inc(evicted);
            set.EntriesSuccess.Set(Success.Count);
            set.EntriesDenial.Set(Denial.Count);
        }
        return entry;
    }

    private static TimeSpan Clamp(uint ttl, TimeSpan min, TimeSpan max)
    {
        var value = TimeSpan.FromSeconds(ttl);
        if (value < min) return min;
        return value > max ? max : value;
    }

    /// <summary>Wraps the writer on a miss: stores what the next plugin answers, then passes it on (or holds it for verify).</summary>
    private sealed class StoringWriter : IDnsResponseWriter
    {
        private readonly CachePlugin _cache;
        private readonly IDnsResponseWriter? _inner;
        private readonly bool _holdBack;
        private readonly IZoneDataVersion? _source;
        private readonly long _version;

        public StoringWriter(CachePlugin cache, IDnsResponseWriter? inner, DnsRequestContext request, bool holdBack)
        {
            _cache = cache;
            _inner = inner;
            _holdBack = holdBack;
            _source = cache.SourceFor(request.QName, out _version);
        }

        public byte[]? Held { get; private set; }

        public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
        {
            var entry = _cache.Store(request, response, _source, _version);
            if (_holdBack) Held = response.ToArray();
            else if (_inner is null) return;
            // As CoreDNS does, the first answer already carries TTLs capped to what the cache will count down from.
            else if (entry is not null && !_cache.Options.KeepTtl) _cache.WriteEntry(request, _inner, entry, (uint)entry.Ttl, capOnly: true);
            else _inner.Write(request, response);
        }
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "cache: refreshing {Name} failed")]
    private static partial void LogRefreshFailed(ILogger logger, string name, Exception exception);
}
