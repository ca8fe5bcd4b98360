using System.Globalization;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Cache;

public enum StaleRefreshMode { Immediate, Verify }

/// <summary>A cache block, parsed once; the defaults are CoreDNS's.</summary>
public sealed record CacheOptions
{
    public const int DefaultCapacity = 9984;
    public const int MinimumCapacity = 1024;

    public required IReadOnlyList<string> Zones { get; init; }
    public int SuccessCapacity { get; init; } = DefaultCapacity;
    public TimeSpan SuccessMaxTtl { get; init; } = TimeSpan.FromSeconds(3600);
    public TimeSpan SuccessMinTtl { get; init; } = TimeSpan.FromSeconds(5);
    public int DenialCapacity { get; init; } = DefaultCapacity;
    public TimeSpan DenialMaxTtl { get; init; } = TimeSpan.FromSeconds(1800);
    public TimeSpan DenialMinTtl { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Hits within <see cref="PrefetchWindow"/> that make an entry worth refreshing before it expires; 0 = off.</summary>
    public int PrefetchAmount { get; init; }
    public TimeSpan PrefetchWindow { get; init; } = TimeSpan.FromMinutes(1);
    public int PrefetchPercentage { get; init; } = 10;
    /// <summary>How long past expiry an entry may still be served; zero = serve_stale off.</summary>
    public TimeSpan ServeStale { get; init; }
    public StaleRefreshMode StaleMode { get; init; } = StaleRefreshMode.Immediate;
    public TimeSpan ServFailTtl { get; init; } = TimeSpan.FromSeconds(5);
    public IReadOnlyList<string> DisableSuccessZones { get; init; } = [];
    public IReadOnlyList<string> DisableDenialZones { get; init; } = [];
    public bool KeepTtl { get; init; }

    public static CacheOptions Parse(Directive directive, IReadOnlyList<string> blockZones)
    {
        var args = directive.Arguments;
        var options = new CacheOptions { Zones = blockZones };
        var zoneStart = 0;
        if (args.Count > 0 && int.TryParse(args[0].Text, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            var ttl = TimeSpan.FromSeconds(directive.ParseInt(args[0], 0, int.MaxValue));
            if (ttl == TimeSpan.Zero) throw directive.Error("cache TTL can not be zero");
            options = options with { SuccessMaxTtl = ttl, DenialMaxTtl = ttl };
            zoneStart = 1;
        }
        options = options with { Zones = directive.ParseZones(zoneStart, blockZones) };
        foreach (var property in directive.Block)
        {
            var p = property.Arguments;
            switch (property.Name)
            {
                case "success":
                case "denial":
                {
                    property.ExpectArgumentCount(1, 3);
                    var capacity = Capacity(property.ParseInt(p[0], 0, int.MaxValue));
                    var success = property.Name == "success";
                    var maxTtl = p.Count > 1 ? Seconds(property, p[1]) : success ? options.SuccessMaxTtl : options.DenialMaxTtl;
                    var minTtl = p.Count > 2 ? Seconds(property, p[2]) : success ? options.SuccessMinTtl : options.DenialMinTtl;
                    if (minTtl > maxTtl) throw property.Error("MINTTL must not exceed TTL");
                    options = success
                        ? options with { SuccessCapacity = capacity, SuccessMaxTtl = maxTtl, SuccessMinTtl = minTtl }
                        : options with { DenialCapacity = capacity, DenialMaxTtl = maxTtl, DenialMinTtl = minTtl };
                    break;
                }
                case "prefetch":
                {
                    property.ExpectArgumentCount(1, 3);
                    options = options with { PrefetchAmount = property.ParseInt(p[0], 1, int.MaxValue) };
                    for (var i = 1; i < p.Count; i++)
                    {
                        var text = p[i].Text;
                        if (text.EndsWith('%'))
                        {
                            if (!int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var percent) || percent < 10 || percent > 90)
                            {
                                throw property.Error($"percentage '{text}' must be between 10% and 90%");
                            }
                            options = options with { PrefetchPercentage = percent };
                        }
                        else
                        {
                            var window = property.ParseDuration(p[i]);
                            if (window <= TimeSpan.Zero) throw property.Error($"prefetch duration must be positive: '{text}'");
                            options = options with { PrefetchWindow = window };
                        }
                    }
                    break;
                }
                case "serve_stale":
                {
                    property.ExpectArgumentCount(0, 2);
                    var stale = p.Count > 0 ? property.ParseDuration(p[0]) : TimeSpan.FromHours(1);
                    if (stale < TimeSpan.Zero) throw property.Error("serve_stale duration must not be negative");
                    var mode = StaleRefreshMode.Immediate;
                    if (p.Count > 1)
                    {
                        mode = p[1].Text switch
                        {
                            "immediate" => StaleRefreshMode.Immediate,
                            "verify" => StaleRefreshMode.Verify,
                            _ => throw property.Error($"invalid refresh mode '{p[1].Text}': use immediate or verify"),
                        };
                    }
                    options = options with { ServeStale = stale, StaleMode = mode };
                    break;
                }
                case "servfail":
                {
                    property.ExpectArgumentCount(1, 1);
                    var ttl = property.ParseDuration(p[0]);
                    if (ttl < TimeSpan.Zero || ttl > TimeSpan.FromMinutes(5)) throw property.Error($"servfail '{p[0].Text}' must be between 0 and 5m");
                    options = options with { ServFailTtl = ttl };
                    break;
                }
                case "disable":
                {
                    if (p.Count == 0) throw property.Error("disable needs success or denial");
                    var zones = property.ParseZones(1, options.Zones);
                    options = p[0].Text switch
                    {
                        "success" => options with { DisableSuccessZones = zones },
                        "denial" => options with { DisableDenialZones = zones },
                        _ => throw property.Error($"cannot disable '{p[0].Text}': use success or denial"),
                    };
                    break;
                }
                case "keepttl":
                    property.ExpectNoArguments();
                    options = options with { KeepTtl = true };
                    break;
                default:
                    throw property.UnknownProperty("cache");
            }
        }
        return options;
    }

    /// <summary>CoreDNS shards its cache 256 ways with at least 4 entries per shard.</summary>
    private static int Capacity(int requested) => Math.Max(MinimumCapacity, requested / 256 * 256);

    private static TimeSpan Seconds(Directive property, CorefileToken token) => TimeSpan.FromSeconds(property.ParseInt(token, 0, int.MaxValue));
}
