namespace ClusterDns.Kubernetes;

public enum PodMode { Disabled, Insecure, Verified }

/// <summary>Client certificate, key and CA for <c>tls CERT KEY CACERT</c>.</summary>
public sealed record KubernetesTlsFiles(string Certificate, string Key, string CertificateAuthority);

/// <summary>
/// The hint the executable gives when the Corefile names no API server: the demo mode points the plugin at its
/// embedded emulator this way (<c>services.SetExtension(new KubernetesConnectionDefaults(url))</c>).
/// </summary>
public sealed record KubernetesConnectionDefaults(string Endpoint);

/// <summary>A <c>kubernetes</c> block, parsed and validated once; immutable.</summary>
public sealed record KubernetesOptions
{
    /// <summary>Every zone the plugin is authoritative for, lower-case with a trailing dot, Corefile order.</summary>
    public required IReadOnlyList<string> Zones { get; init; }
    /// <summary>The zones that are not reverse zones; the first is the primary (PTR targets use it).</summary>
    public required IReadOnlyList<string> ForwardZones { get; init; }
    public string PrimaryZone => ForwardZones[0];

    public string? Endpoint { get; init; }
    public KubernetesTlsFiles? Tls { get; init; }
    public string? Kubeconfig { get; init; }
    public string? KubeconfigContext { get; init; }

    /// <summary>Only these namespaces are served; null serves all.</summary>
    public IReadOnlySet<string>? Namespaces { get; init; }
    public string? LabelSelector { get; init; }
    public string? NamespaceLabelSelector { get; init; }
    public PodMode Pods { get; init; } = PodMode.Disabled;
    public bool EndpointPodNames { get; init; }
    public uint Ttl { get; init; } = 5;
    public bool NoEndpoints { get; init; }
    /// <summary>Null: no fallthrough. Empty: every zone. Otherwise the zones whose NXDOMAIN names go to the next plugin.</summary>
    public IReadOnlyList<string>? Fallthrough { get; init; }
    public bool IgnoreEmptyService { get; init; }
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>The search domains of the server's own resolv.conf, which autopath tries after a Pod's cluster domains.</summary>
    public IReadOnlyList<string> HostSearchDomains { get; init; } = [];

    public bool WatchPods => Pods == PodMode.Verified;
    public bool WatchNamespaces => NamespaceLabelSelector is not null;

    public static bool IsReverseZone(string zone) =>
        zone.EndsWith("in-addr.arpa.", StringComparison.Ordinal) || zone.EndsWith("ip6.arpa.", StringComparison.Ordinal);

    /// <summary>Whether a namespace passes the <c>namespaces</c> restriction (namespace_labels is checked against the watched namespaces).</summary>
    public bool NamespaceAllowed(string ns) => Namespaces is null || Namespaces.Contains(ns);
}
