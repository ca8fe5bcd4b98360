using System.Net;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Forward;

public enum ForwardPolicy { Random, RoundRobin, Sequential }

/// <summary>One upstream: where it is and how to reach it.</summary>
public sealed record UpstreamAddress(IPEndPoint EndPoint, bool Tls, string? ServerName)
{
    /// <summary>The <c>to</c> label of the metrics, as CoreDNS writes it (<c>127.0.0.1:53</c>).</summary>
    public string Label => EndPoint.ToString();
}

/// <summary>A forward block, parsed and validated once.</summary>
public sealed record ForwardOptions
{
    public const int MaxUpstreams = 15;

    public required string From { get; init; }
    public required byte[] FromWire { get; init; }
    public required IReadOnlyList<UpstreamAddress> Upstreams { get; init; }
    public IReadOnlyList<byte[]> Except { get; init; } = [];
    public bool ForceTcp { get; init; }
    public bool PreferUdp { get; init; }
    public TimeSpan Expire { get; init; } = TimeSpan.FromSeconds(10);
    public int MaxFails { get; init; } = 2;
    public TimeSpan HealthCheckInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    public bool HealthCheckRecursionDesired { get; init; } = true;
    public byte[] HealthCheckDomain { get; init; } = [0];
    public ForwardPolicy Policy { get; init; } = ForwardPolicy.Random;
    public int MaxConcurrent { get; init; }
    public IReadOnlySet<int> NextRcodes { get; init; } = new HashSet<int>();
    public bool FailFastAllUnhealthy { get; init; }
    public string? TlsCertificate { get; init; }
    public string? TlsKey { get; init; }
    public string? TlsCa { get; init; }
    public string? TlsServerName { get; init; }
    /// <summary>
    /// The whole budget of one query across tries. CoreDNS uses 5 s, exactly the default timeout of dig and glibc,
    /// so their clients give up just before its SERVFAIL arrives; a little less lets them see it.
    /// </summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(4.5);
    /// <summary>The read timeout of one try against one upstream (CoreDNS's read_timeout default).</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public static ForwardOptions Parse(Directive directive)
    {
        if (directive.Arguments.Count < 2) throw directive.Error("needs FROM and at least one TO");
        var from = directive.ParseZone(directive.Arguments[0]);
        var upstreams = new List<UpstreamAddress>();
        for (var i = 1; i < directive.Arguments.Count; i++) upstreams.AddRange(ParseUpstream(directive, directive.Arguments[i]));
        if (upstreams.Count == 0) throw directive.Error("no upstream nameserver found");
        if (upstreams.Count > MaxUpstreams) throw directive.Error($"more than {MaxUpstreams} upstreams are not supported");

        var options = new ForwardOptions { From = from, FromWire = DnsName.Encode(from), Upstreams = upstreams };
        var except = new List<byte[]>();
        var next = new HashSet<int>();
        foreach (var property in directive.Block)
        {
            var args = property.Arguments;
            switch (property.Name)
            {
                case "except":
                    if (args.Count == 0) throw property.Error("needs at least one name");
                    foreach (var token in args) except.Add(DnsName.Encode(property.ParseZone(token)));
                    break;
                case "force_tcp":
                    property.ExpectNoArguments();
                    options = options with { ForceTcp = true };
                    break;
                case "prefer_udp":
                    property.ExpectNoArguments();
                    options = options with { PreferUdp = true };
                    break;
                case "expire":
                    property.ExpectArgumentCount(1, 1);
                    options = options with { Expire = Positive(property, property.ParseDuration(args[0])) };
                    break;
                case "max_fails":
                    property.ExpectArgumentCount(1, 1);
                    options = options with { MaxFails = property.ParseInt(args[0], 0, int.MaxValue) };
                    break;
                case "health_check":
                    options = ParseHealthCheck(property, options);
                    break;
                case "policy":
                    property.ExpectArgumentCount(1, 1);
                    options = options with
                    {
                        Policy = args[0].Text switch
                        {
                            "random" => ForwardPolicy.Random,
                            "round_robin" => ForwardPolicy.RoundRobin,
                            "sequential" => ForwardPolicy.Sequential,
                            _ => throw property.Error($"unknown policy '{args[0].Text}'"),
                        },
                    };
                    break;
                case "max_concurrent":
                    property.ExpectArgumentCount(1, 1);
                    options = options with { MaxConcurrent = property.ParseInt(args[0], 1, int.MaxValue) };
                    break;
                case "next":
                    if (args.Count == 0) throw property.Error("needs at least one rcode");
                    foreach (var token in args) next.Add(ParseRcode(property, token));
                    break;
                case "failfast_all_unhealthy_upstreams":
                    property.ExpectNoArguments();
                    options = options with { FailFastAllUnhealthy = true };
                    break;
                case "tls":
                    property.ExpectArgumentCount(0, 3);
                    options = options with
                    {
                        TlsCertificate = args.Count > 0 ? ExistingFile(property, args[0]) : null,
                        TlsKey = args.Count > 1 ? ExistingFile(property, args[1]) : null,
                        TlsCa = args.Count > 2 ? ExistingFile(property, args[2]) : null,
                    };
                    if (args.Count == 1) throw property.Error("tls needs CERT and KEY together");
                    break;
                case "tls_servername":
                    property.ExpectArgumentCount(1, 1);
                    options = options with { TlsServerName = args[0].Text };
                    break;
                default:
                    throw property.UnknownProperty("forward");
            }
        }
        if (options.ForceTcp && options.PreferUdp) options = options with { PreferUdp = false }; // force_tcp wins, as in CoreDNS
        return options with { Except = except, NextRcodes = next };
    }

    private static TimeSpan Positive(Directive property, TimeSpan value) =>
        value < TimeSpan.Zero ? throw property.Error("the duration must not be negative") : value;

    private static string ExistingFile(Directive property, CorefileToken token) =>
        File.Exists(token.Text) ? token.Text : throw property.Error($"file '{token.Text}' not found");

    private static ForwardOptions ParseHealthCheck(Directive property, ForwardOptions options)
    {
        var args = property.Arguments;
        if (args.Count == 0) throw property.Error("missing argument");
        options = options with { HealthCheckInterval = Positive(property, property.ParseDuration(args[0])) };
        for (var i = 1; i < args.Count; i++)
        {
            switch (args[i].Text)
            {
                case "no_rec":
                    options = options with { HealthCheckRecursionDesired = false };
                    break;
                case "domain":
                    if (i + 1 >= args.Count) throw property.Error("domain needs a name");
                    options = options with { HealthCheckDomain = DnsName.Encode(property.ParseZone(args[++i])) };
                    break;
                default:
                    throw property.Error($"unknown health_check option '{args[i].Text}'");
            }
        }
        return options;
    }

    private static int ParseRcode(Directive property, CorefileToken token)
    {
        for (var rcode = 0; rcode < 24; rcode++)
        {
            if (string.Equals(DnsRcode.ToText(rcode), token.Text, StringComparison.OrdinalIgnoreCase)) return rcode;
        }
        throw property.Error($"unknown rcode '{token.Text}'");
    }

    /// <summary>An IP[:port], dns://IP[:port], tls://IP[:port] (853), or the path of a resolv.conf whose nameservers are used.</summary>
    public static IReadOnlyList<UpstreamAddress> ParseUpstream(Directive directive, CorefileToken token)
    {
        var text = token.Text;
        if (text.StartsWith('/') || (!text.Contains("://", StringComparison.Ordinal) && File.Exists(text)))
        {
            if (!File.Exists(text)) throw directive.Error($"resolv.conf '{text}' not found");
            var list = new List<UpstreamAddress>();
            foreach (var address in Hosting.ResolvConf.ReadNameservers(text)) list.Add(new UpstreamAddress(new IPEndPoint(address, 53), false, null));
            return list;
        }
        var tls = false;
        var rest = text;
        if (text.StartsWith("tls://", StringComparison.OrdinalIgnoreCase)) { tls = true; rest = text[6..]; }
        else if (text.StartsWith("dns://", StringComparison.OrdinalIgnoreCase)) rest = text[6..];
        else if (text.Contains("://", StringComparison.Ordinal)) throw directive.Error($"unsupported upstream scheme in '{text}'");
        string? serverName = null;
        var percent = rest.IndexOf('%', StringComparison.Ordinal);
        if (tls && percent > 0)
        {
            // tls://IP%name:port: per-upstream TLS server name (CoreDNS).
            var colon = rest.LastIndexOf(':');
            var end = colon > percent ? colon : rest.Length;
            serverName = rest[(percent + 1)..end];
            rest = rest[..percent] + rest[end..];
        }
        var defaultPort = tls ? 853 : 53;
        if (IPEndPoint.TryParse(rest, out var endPoint))
        {
            if (endPoint.Port == 0) endPoint.Port = defaultPort;
            return [new UpstreamAddress(endPoint, tls, serverName)];
        }
        throw directive.Error($"not an IP address or resolv.conf: '{text}'");
    }
}
