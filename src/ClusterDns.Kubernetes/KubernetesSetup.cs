using System.Net;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Kubernetes;

/// <summary>Turns a <c>kubernetes [ZONES...] { ... }</c> directive into <see cref="KubernetesOptions"/>, failing with file:line.</summary>
public static class KubernetesSetup
{
    public static KubernetesOptions Parse(Directive directive, IReadOnlyList<string> blockZones)
    {
        var zones = new List<string>();
        foreach (var token in directive.Arguments) zones.Add(ParseZoneOrCidr(directive, token));
        if (zones.Count == 0) zones.AddRange(blockZones);
        var forward = new List<string>();
        foreach (var zone in zones)
        {
            if (!KubernetesOptions.IsReverseZone(zone)) forward.Add(zone);
        }
        if (forward.Count == 0) throw directive.Error("at least one zone must not be a reverse zone");

        string? endpoint = null, kubeconfig = null, context = null, labels = null, namespaceLabels = null;
        KubernetesTlsFiles? tls = null;
        HashSet<string>? namespaces = null;
        var pods = PodMode.Disabled;
        bool endpointPodNames = false, noEndpoints = false, ignoreEmpty = false;
        uint ttl = 5;
        IReadOnlyList<string>? fallthrough = null;
        var startupTimeout = TimeSpan.FromSeconds(5);

        foreach (var property in directive.Block)
        {
            var args = property.Arguments;
            switch (property.Name)
            {
                case "endpoint":
                    property.ExpectArgumentCount(1, 1);
                    if (!Uri.TryCreate(args[0].Text, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                        throw property.Error($"invalid endpoint '{args[0].Text}': want an http or https URL");
                    endpoint = args[0].Text;
                    break;
                case "tls":
                    property.ExpectArgumentCount(3, 3);
                    tls = new KubernetesTlsFiles(args[0].Text, args[1].Text, args[2].Text);
                    break;
                case "kubeconfig":
                    property.ExpectArgumentCount(1, 2);
                    kubeconfig = args[0].Text;
                    context = args.Count > 1 ? args[1].Text : null;
                    break;
                case "namespaces":
                    property.ExpectArgumentCount(1, int.MaxValue);
                    namespaces ??= new HashSet<string>(StringComparer.Ordinal);
                    foreach (var ns in args) namespaces.Add(ns.Text);
                    break;
                case "labels":
                    property.ExpectArgumentCount(1, int.MaxValue);
                    labels = JoinSelector(property);
                    break;
                case "namespace_labels":
                    property.ExpectArgumentCount(1, int.MaxValue);
                    namespaceLabels = JoinSelector(property);
                    break;
                case "pods":
                    property.ExpectArgumentCount(1, 1);
                    pods = args[0].Text switch
                    {
                        "disabled" => PodMode.Disabled,
                        "insecure" => PodMode.Insecure,
                        "verified" => PodMode.Verified,
                        _ => throw property.Error($"invalid pods mode '{args[0].Text}': want disabled, insecure or verified"),
                    };
                    break;
                case "endpoint_pod_names":
                    property.ExpectNoArguments();
                    endpointPodNames = true;
                    break;
                case "ttl":
                    property.ExpectArgumentCount(1, 1);
                    ttl = (uint)property.ParseInt(args[0], 0, 3600);
                    break;
                case "noendpoints":
                    property.ExpectNoArguments();
                    noEndpoints = true;
                    break;
                case "fallthrough":
                    fallthrough = property.ParseZones(0, []);
                    break;
                case "ignore":
                    property.ExpectArgumentCount(1, 1);
                    if (args[0].Text != "empty_service") throw property.Error($"unable to parse ignore value: '{args[0].Text}'");
                    ignoreEmpty = true;
                    break;
                case "startup_timeout":
                    property.ExpectArgumentCount(1, 1);
                    startupTimeout = property.ParseDuration(args[0]);
                    break;
                default:
                    throw property.UnknownProperty("kubernetes");
            }
            if (property.Block.Count > 0) property.ExpectNoBlock();
        }
        if (namespaces is not null && namespaceLabels is not null)
            throw directive.Error("namespaces and namespace_labels cannot both be set");

        return new KubernetesOptions
        {
            Zones = zones,
            ForwardZones = forward,
            Endpoint = endpoint,
            Tls = tls,
            Kubeconfig = kubeconfig,
            KubeconfigContext = context,
            Namespaces = namespaces,
            LabelSelector = labels,
            NamespaceLabelSelector = namespaceLabels,
            Pods = pods,
            EndpointPodNames = endpointPodNames,
            Ttl = ttl,
            NoEndpoints = noEndpoints,
            Fallthrough = fallthrough,
            IgnoreEmptyService = ignoreEmpty,
            StartupTimeout = startupTimeout,
        };
    }

    private static string JoinSelector(Directive property)
    {
        var parts = new string[property.Arguments.Count];
        for (var i = 0; i < parts.Length; i++) parts[i] = property.Arguments[i].Text;
        return string.Join(' ', parts);
    }

    /// <summary>A zone, or an octet-aligned IPv4 CIDR (10.0.0.0/8) turned into its reverse zone as CoreDNS does.</summary>
    private static string ParseZoneOrCidr(Directive directive, CorefileToken token)
    {
        var slash = token.Text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0) return directive.ParseZone(token);
        if (!IPAddress.TryParse(token.Text.AsSpan(0, slash), out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !int.TryParse(token.Text.AsSpan(slash + 1), out var bits) || bits is not (8 or 16 or 24 or 32))
            throw directive.Error($"invalid zone '{token.Text}': only octet-aligned IPv4 CIDRs are supported");
        var bytes = address.GetAddressBytes();
        var labels = new List<string>();
        for (var i = bits / 8 - 1; i >= 0; i--) labels.Add(bytes[i].ToString(System.Globalization.CultureInfo.InvariantCulture));
        labels.Add("in-addr.arpa.");
        return string.Join('.', labels);
    }
}
