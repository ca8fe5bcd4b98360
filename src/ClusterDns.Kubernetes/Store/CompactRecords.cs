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

/// <summary>
/// One endpoint of a slice: its addresses, DNS hostname, the Pod it points at, and readiness. A struct in the slice's
/// array, its addresses (all of the slice's family) end to end in one array: an endpoint almost always has exactly one,
/// and an object plus an array of arrays per endpoint was a third of the store.
/// </summary>
public readonly record struct EndpointRecord(byte[] PackedAddresses, int AddressLength, string? Hostname, string? PodName, bool Ready)
{
    public int AddressCount => PackedAddresses.Length / AddressLength;

    /// <summary>The address at <paramref name="index"/>; the packed array itself when it holds only that one.</summary>
    public byte[] Address(int index) =>
        PackedAddresses.Length == AddressLength ? PackedAddresses : PackedAddresses.AsSpan(index * AddressLength, AddressLength).ToArray();
}

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
