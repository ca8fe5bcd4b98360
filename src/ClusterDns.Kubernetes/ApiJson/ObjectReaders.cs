using System.Globalization;
using System.Text.Json;
using ClusterDns.Kubernetes.Store;

namespace ClusterDns.Kubernetes.ApiJson;

/// <summary>A core/v1 Service: kind, cluster IPs (every family of clusterIPs, else clusterIP), externalName, ports.</summary>
internal sealed class ServiceReader : ApiObjectReader<ServiceRecord>
{
    private readonly List<byte[]> _clusterIPs = [], _clusterIP = [];
    private readonly List<PortRecord> _ports = [];

    public override ServiceRecord? Read(ref Utf8JsonReader reader, ref ObjectMeta meta)
    {
        _clusterIPs.Clear();
        _clusterIP.Clear();
        _ports.Clear();
        var externalNameType = false;
        var hasClusterIP = false;
        var clusterIPsCount = 0;
        string? externalName = null;
        var publishNotReady = false;
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "service")) throw JsonRead.Unexpected(ref reader, "service", "an object");
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("metadata"u8))
            {
                JsonRead.Next(ref reader);
                meta.Read(ref reader, Strings);
            }
            else if (reader.ValueTextEquals("spec"u8))
            {
                JsonRead.Next(ref reader);
                if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "spec")) continue;
                while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("type"u8))
                    {
                        JsonRead.Next(ref reader);
                        externalNameType = JsonRead.StringIs(ref reader, "ExternalName"u8, "spec.type");
                    }
                    else if (reader.ValueTextEquals("clusterIP"u8))
                    {
                        JsonRead.Next(ref reader);
                        // Headless when absent, empty or "None".
                        hasClusterIP = reader.TokenType == JsonTokenType.String && !reader.ValueSpan.IsEmpty && !reader.ValueTextEquals("None"u8);
                        JsonRead.AddAddress(_clusterIP, ref reader, "spec.clusterIP");
                    }
                    else if (reader.ValueTextEquals("clusterIPs"u8))
                    {
                        JsonRead.Next(ref reader);
                        if (!JsonRead.Enter(ref reader, JsonTokenType.StartArray, "spec.clusterIPs")) continue;
                        while (JsonRead.Next(ref reader) != JsonTokenType.EndArray)
                        {
                            clusterIPsCount++;
                            JsonRead.AddAddress(_clusterIPs, ref reader, "spec.clusterIPs[]");
                        }
                    }
                    else if (reader.ValueTextEquals("externalName"u8))
                    {
                        JsonRead.Next(ref reader);
                        externalName = JsonRead.String(ref reader, "spec.externalName");
                    }
                    else if (reader.ValueTextEquals("ports"u8))
                    {
                        JsonRead.Next(ref reader);
                        Ports.Read(ref reader, Strings, _ports, "spec.ports", portRequired: false);
                    }
                    else if (reader.ValueTextEquals("publishNotReadyAddresses"u8))
                    {
                        JsonRead.Next(ref reader);
                        publishNotReady = JsonRead.Boolean(ref reader, "spec.publishNotReadyAddresses") == true;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Skip();
            }
        }
        var kind = externalNameType ? ServiceKind.ExternalName : hasClusterIP ? ServiceKind.ClusterIP : ServiceKind.Headless;
        byte[][] ips = kind != ServiceKind.ClusterIP ? [] : clusterIPsCount > 0 ? [.. _clusterIPs] : [.. _clusterIP];
        return new ServiceRecord(meta.Namespace ?? "", meta.RequiredName, kind, ips, kind == ServiceKind.ExternalName ? externalName : null,
            PortSets.Get(_ports), publishNotReady);
    }
}

/// <summary>
/// A discovery.k8s.io/v1 EndpointSlice: its Service (the kubernetes.io/service-name label), endpoints with addresses,
/// readiness (absent means ready, as the API documents), hostname and Pod, ports, and the trigger-time annotation.
/// Slices without the label, and FQDN slices (no addresses DNS can serve), make no record.
/// </summary>
internal sealed class EndpointSliceReader(bool keepPodNames = true) : ApiObjectReader<EndpointSliceRecord>
{
    private readonly List<EndpointRecord> _endpoints = [];
    private readonly List<byte[]> _addresses = [];
    private readonly List<PortRecord> _ports = [];

    public override EndpointSliceRecord? Read(ref Utf8JsonReader reader, ref ObjectMeta meta)
    {
        _endpoints.Clear();
        _ports.Clear();
        meta.WantSliceFields = true;
        var addressLength = 0; // 4 or 16 for an IPv4 or IPv6 slice; 0 for FQDN, which DNS cannot serve
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "endpointslice")) throw JsonRead.Unexpected(ref reader, "endpointslice", "an object");
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("metadata"u8))
            {
                JsonRead.Next(ref reader);
                meta.Read(ref reader, Strings);
            }
            else if (reader.ValueTextEquals("addressType"u8))
            {
                JsonRead.Next(ref reader);
                addressLength = JsonRead.StringIs(ref reader, "IPv4"u8, "addressType") ? 4 : JsonRead.StringIs(ref reader, "IPv6"u8, "addressType") ? 16 : 0;
            }
            else if (reader.ValueTextEquals("endpoints"u8))
            {
                JsonRead.Next(ref reader);
                if (!JsonRead.Enter(ref reader, JsonTokenType.StartArray, "endpoints")) continue;
                while (JsonRead.Next(ref reader) != JsonTokenType.EndArray)
                {
                    if (ReadEndpoint(ref reader) is { } endpoint) _endpoints.Add(endpoint);
                }
            }
            else if (reader.ValueTextEquals("ports"u8))
            {
                JsonRead.Next(ref reader);
                Ports.Read(ref reader, Strings, _ports, "ports", portRequired: true);
            }
            else
            {
                reader.Skip();
            }
        }
        if (string.IsNullOrEmpty(meta.ServiceName) || addressLength == 0) return null;
        // The API server keeps every address of a slice in its addressType; an endpoint of the other family serves nothing.
        _endpoints.RemoveAll(endpoint => endpoint.AddressLength != addressLength);
        DateTimeOffset? trigger = null;
        if (meta.TriggerTime is { } time && DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            trigger = parsed;
        return new EndpointSliceRecord(meta.Namespace ?? "", meta.RequiredName, meta.ServiceName, [.. _endpoints], PortSets.Get(_ports), trigger);
    }

    /// <summary>One endpoint, its addresses of its first address's family; null when it has no address.</summary>
    private EndpointRecord? ReadEndpoint(ref Utf8JsonReader reader)
    {
        _addresses.Clear();
        string? hostname = null, targetName = null;
        var targetIsPod = false;
        bool? ready = null;
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "endpoints[]")) return null;
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("addresses"u8))
            {
                JsonRead.Next(ref reader);
                if (!JsonRead.Enter(ref reader, JsonTokenType.StartArray, "endpoints[].addresses")) continue;
                while (JsonRead.Next(ref reader) != JsonTokenType.EndArray) JsonRead.AddAddress(_addresses, ref reader, "endpoints[].addresses[]");
            }
            else if (reader.ValueTextEquals("conditions"u8))
            {
                JsonRead.Next(ref reader);
                if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "endpoints[].conditions")) continue;
                while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("ready"u8))
                    {
                        JsonRead.Next(ref reader);
                        ready = JsonRead.Boolean(ref reader, "endpoints[].conditions.ready");
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("hostname"u8))
            {
                JsonRead.Next(ref reader);
                hostname = JsonRead.String(ref reader, "endpoints[].hostname");
            }
            else if (reader.ValueTextEquals("targetRef"u8))
            {
                JsonRead.Next(ref reader);
                if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "endpoints[].targetRef")) continue;
                while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("kind"u8))
                    {
                        JsonRead.Next(ref reader);
                        targetIsPod = JsonRead.StringIs(ref reader, "Pod"u8, "endpoints[].targetRef.kind");
                    }
                    else if (keepPodNames && reader.ValueTextEquals("name"u8))
                    {
                        JsonRead.Next(ref reader);
                        targetName = JsonRead.String(ref reader, "endpoints[].targetRef.name");
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Skip();
            }
        }
        if (_addresses.Count == 0) return null;
        var length = _addresses[0].Length;
        var packed = _addresses.Count == 1 ? _addresses[0] : Pack(length);
        return new EndpointRecord(packed, length, string.IsNullOrEmpty(hostname) ? null : hostname, targetIsPod ? targetName : null, ready ?? true);
    }

    private byte[] Pack(int length)
    {
        var count = 0;
        foreach (var address in _addresses) if (address.Length == length) count++;
        var packed = new byte[count * length];
        var offset = 0;
        foreach (var address in _addresses)
        {
            if (address.Length != length) continue;
            address.CopyTo(packed, offset);
            offset += length;
        }
        return packed;
    }
}

/// <summary>A core/v1 Pod: its IPs (podIPs, else podIP), whether it is on the host network, whether it finished.</summary>
internal sealed class PodReader : ApiObjectReader<PodRecord>
{
    private readonly List<byte[]> _podIPs = [], _podIP = [];

    public override PodRecord? Read(ref Utf8JsonReader reader, ref ObjectMeta meta)
    {
        _podIPs.Clear();
        _podIP.Clear();
        var podIPsCount = 0;
        var hostNetwork = false;
        var finished = false;
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "pod")) throw JsonRead.Unexpected(ref reader, "pod", "an object");
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("metadata"u8))
            {
                JsonRead.Next(ref reader);
                meta.Read(ref reader, Strings);
            }
            else if (reader.ValueTextEquals("spec"u8))
            {
                JsonRead.Next(ref reader);
                if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "spec")) continue;
                while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("hostNetwork"u8))
                    {
                        JsonRead.Next(ref reader);
                        hostNetwork = JsonRead.Boolean(ref reader, "spec.hostNetwork") == true;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("status"u8))
            {
                JsonRead.Next(ref reader);
                if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "status")) continue;
                while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("phase"u8))
                    {
                        JsonRead.Next(ref reader);
                        finished = JsonRead.StringIs(ref reader, "Succeeded"u8, "status.phase") || JsonRead.StringIs(ref reader, "Failed"u8, "status.phase");
                    }
                    else if (reader.ValueTextEquals("podIP"u8))
                    {
                        JsonRead.Next(ref reader);
                        JsonRead.AddAddress(_podIP, ref reader, "status.podIP");
                    }
                    else if (reader.ValueTextEquals("podIPs"u8))
                    {
                        JsonRead.Next(ref reader);
                        if (!JsonRead.Enter(ref reader, JsonTokenType.StartArray, "status.podIPs")) continue;
                        while (JsonRead.Next(ref reader) != JsonTokenType.EndArray)
                        {
                            podIPsCount++;
                            if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "status.podIPs[]")) continue;
                            while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
                            {
                                if (reader.ValueTextEquals("ip"u8))
                                {
                                    JsonRead.Next(ref reader);
                                    JsonRead.AddAddress(_podIPs, ref reader, "status.podIPs[].ip");
                                }
                                else
                                {
                                    reader.Skip();
                                }
                            }
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else
            {
                reader.Skip();
            }
        }
        return new PodRecord(meta.Namespace ?? "", meta.RequiredName, podIPsCount > 0 ? [.. _podIPs] : [.. _podIP], hostNetwork, finished);
    }
}

/// <summary>A core/v1 Namespace: only its name.</summary>
internal sealed class NamespaceReader : ApiObjectReader<NamespaceRecord>
{
    public override NamespaceRecord? Read(ref Utf8JsonReader reader, ref ObjectMeta meta)
    {
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "namespace")) throw JsonRead.Unexpected(ref reader, "namespace", "an object");
        ReadMetadata(ref reader, ref meta);
        return new NamespaceRecord(meta.RequiredName);
    }
}

/// <summary>Service and EndpointSlice ports: name (empty is none), protocol lower case (TCP when absent), number.</summary>
internal static class Ports
{
    /// <param name="portRequired">EndpointSlice ports may leave the number out (all ports); such a port is skipped.</param>
    public static void Read(ref Utf8JsonReader reader, StringPool strings, List<PortRecord> ports, string field, bool portRequired)
    {
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartArray, field)) return;
        while (JsonRead.Next(ref reader) != JsonTokenType.EndArray)
        {
            if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, field + "[]")) continue;
            string? name = null;
            var protocol = "tcp";
            int? number = null;
            while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("name"u8))
                {
                    JsonRead.Next(ref reader);
                    name = strings.GetOrNull(ref reader, field + "[].name");
                }
                else if (reader.ValueTextEquals("protocol"u8))
                {
                    JsonRead.Next(ref reader);
                    protocol = JsonRead.Protocol(ref reader, field + "[].protocol");
                }
                else if (reader.ValueTextEquals("port"u8))
                {
                    JsonRead.Next(ref reader);
                    number = JsonRead.Int32(ref reader, field + "[].port");
                }
                else
                {
                    reader.Skip();
                }
            }
            if (number is null && portRequired) continue;
            ports.Add(new PortRecord(name, protocol, number ?? 0));
        }
    }
}

/// <summary>
/// Single-port lists by value, so thousands of records with <c>http/tcp/80</c> hold one array and one record between
/// them; bounded as <see cref="StringPool"/>. Longer lists are rare enough to be their own.
/// </summary>
internal sealed class PortSetPool
{
    private const int MaxEntries = 4096;
    private readonly Dictionary<PortRecord, PortRecord[]> _single = [];

    public PortRecord[] Get(List<PortRecord> ports)
    {
        if (ports.Count != 1) return [.. ports];
        if (_single.TryGetValue(ports[0], out var shared)) return shared;
        PortRecord[] created = [ports[0]];
        if (_single.Count < MaxEntries) _single.Add(ports[0], created);
        return created;
    }
}
