using System.Net;
using k8s.Models;

namespace ClusterDns.Kubernetes.Store;

public enum ServiceKind : byte { ClusterIP, Headless, ExternalName }

/// <summary>A Service port as answers need it: name, protocol (lower case) and number.</summary>
public sealed record PortRecord(string? Name, string Protocol, int Port);

/// <summary>The fields of a Service that answers need; never the whole object.</summary>
public sealed record ServiceRecord(string Namespace, string Name, ServiceKind Kind, byte[][] ClusterIPs, string? ExternalName,
    PortRecord[] Ports, bool PublishNotReadyAddresses)
{
    public string Key => Namespace + "/" + Name;
}

/// <summary>One endpoint of a slice: its addresses, DNS hostname, the Pod it points at, and readiness.</summary>
public sealed record EndpointRecord(byte[][] Addresses, string? Hostname, string? PodName, bool Ready);

/// <summary>The fields of an EndpointSlice that answers need; ServiceName comes from kubernetes.io/service-name.</summary>
public sealed record EndpointSliceRecord(string Namespace, string Name, string ServiceName, EndpointRecord[] Endpoints, PortRecord[] Ports,
    DateTimeOffset? LastChangeTriggerTime)
{
    public string Key => Namespace + "/" + Name;
    public string ServiceKey => Namespace + "/" + ServiceName;
}

/// <summary>
/// The fields of a Pod that answers need. <see cref="IdentifiesClient"/>: whether its IP names it alone, which a Pod on
/// the host network (the node's IP) or one that finished (its IP is free for the next Pod) does not.
/// </summary>
public sealed record PodRecord(string Namespace, string Name, byte[][] IPs, bool HostNetwork = false, bool Finished = false)
{
    public bool IdentifiesClient => !HostNetwork && !Finished;

    public string Key => Namespace + "/" + Name;
}

public sealed record NamespaceRecord(string Name)
{
    public string Key => Name;
}

/// <summary>Object to compact record: what the reflectors keep, so a full API object never outlives its page.</summary>
public static class CompactRecordConverter
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";
    public const string TriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time";

    public static ServiceRecord ToRecord(V1Service service)
    {
        var spec = service.Spec;
        var kind = spec?.Type == "ExternalName" ? ServiceKind.ExternalName
            : spec?.ClusterIP is null or "" or "None" ? ServiceKind.Headless : ServiceKind.ClusterIP;
        var ips = new List<byte[]>();
        if (kind == ServiceKind.ClusterIP)
        {
            if (spec!.ClusterIPs is { Count: > 0 } list)
            {
                foreach (var ip in list) AddIp(ips, ip);
            }
            else
            {
                AddIp(ips, spec.ClusterIP);
            }
        }
        var ports = new List<PortRecord>();
        if (spec?.Ports is { } servicePorts)
        {
            foreach (var port in servicePorts) ports.Add(new PortRecord(NullIfEmpty(port.Name), (port.Protocol ?? "TCP").ToLowerInvariant(), port.Port));
        }
        return new ServiceRecord(service.Metadata.NamespaceProperty ?? "", service.Metadata.Name, kind, [.. ips],
            kind == ServiceKind.ExternalName ? spec?.ExternalName : null, [.. ports], spec?.PublishNotReadyAddresses == true);
    }

    public static EndpointSliceRecord? ToRecord(V1EndpointSlice slice)
    {
        if (slice.Metadata.Labels is null || !slice.Metadata.Labels.TryGetValue(ServiceNameLabel, out var serviceName) || string.IsNullOrEmpty(serviceName))
            return null;
        if (slice.AddressType is not ("IPv4" or "IPv6")) return null; // FQDN slices carry no addresses DNS can serve
        var endpoints = new List<EndpointRecord>();
        if (slice.Endpoints is { } list)
        {
            foreach (var endpoint in list)
            {
                var addresses = new List<byte[]>();
                if (endpoint.Addresses is { } texts)
                {
                    foreach (var text in texts) AddIp(addresses, text);
                }
                if (addresses.Count == 0) continue;
                var podName = endpoint.TargetRef is { Kind: "Pod" } target ? target.Name : null;
                var ready = endpoint.Conditions?.Ready ?? true; // nil means ready, as the API documents
                endpoints.Add(new EndpointRecord([.. addresses], NullIfEmpty(endpoint.Hostname), podName, ready));
            }
        }
        var ports = new List<PortRecord>();
        if (slice.Ports is { } slicePorts)
        {
            foreach (var port in slicePorts)
            {
                if (port.Port is { } number) ports.Add(new PortRecord(NullIfEmpty(port.Name), (port.Protocol ?? "TCP").ToLowerInvariant(), number));
            }
        }
        DateTimeOffset? trigger = null;
        if (slice.Metadata.Annotations is { } annotations && annotations.TryGetValue(TriggerTimeAnnotation, out var time)
            && DateTimeOffset.TryParse(time, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed))
            trigger = parsed;
        return new EndpointSliceRecord(slice.Metadata.NamespaceProperty ?? "", slice.Metadata.Name, serviceName, [.. endpoints], [.. ports], trigger);
    }

    public static PodRecord ToRecord(V1Pod pod)
    {
        var ips = new List<byte[]>();
        if (pod.Status?.PodIPs is { Count: > 0 } list)
        {
            foreach (var ip in list) AddIp(ips, ip.Ip);
        }
        else
        {
            AddIp(ips, pod.Status?.PodIP);
        }
        var phase = pod.Status?.Phase;
        return new PodRecord(pod.Metadata.NamespaceProperty ?? "", pod.Metadata.Name, [.. ips], pod.Spec?.HostNetwork == true,
            phase is "Succeeded" or "Failed");
    }

    public static NamespaceRecord ToRecord(V1Namespace ns) => new(ns.Metadata.Name);

    private static void AddIp(List<byte[]> ips, string? text)
    {
        if (string.IsNullOrEmpty(text) || !IPAddress.TryParse(text, out var address)) return;
        var bytes = address.GetAddressBytes();
        foreach (var existing in ips)
        {
            if (existing.AsSpan().SequenceEqual(bytes)) return;
        }
        ips.Add(bytes);
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
