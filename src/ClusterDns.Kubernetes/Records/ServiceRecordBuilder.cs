using ClusterDns.Kubernetes.Store;
using ClusterDns.Server.Wire;

namespace ClusterDns.Kubernetes.Records;

/// <summary>
/// The names one Service contributes, per the Kubernetes DNS specification and CoreDNS: A/AAAA for its cluster IPs or
/// (headless) its endpoints, endpoint names, SRV for its ports, CNAME for ExternalName, and PTR for its addresses.
/// </summary>
internal sealed class ServiceRecordBuilder
{
    private readonly KubernetesOptions _options;
    private readonly byte[][] _forwardZones;
    private readonly byte[][] _allZones;
    private readonly byte[] _primaryZone;

    public ServiceRecordBuilder(KubernetesOptions options)
    {
        _options = options;
        _forwardZones = [.. options.ForwardZones.Select(RecordEncoding.Name)];
        _allZones = [.. options.Zones.Select(RecordEncoding.Name)];
        _primaryZone = _forwardZones[0];
    }

    private uint Ttl => _options.Ttl;

    private readonly record struct Endpoint(byte[] Address, string Label);

    private readonly record struct SrvTarget(byte[] Target, int Port, byte[] Additional, int AdditionalCount);

    public void Build(ServiceRecord service, IReadOnlyList<EndpointSliceRecord> slices, object owner, List<(byte[] Name, RecordPart Part)> parts)
    {
        var endpoints = new List<(Endpoint Endpoint, EndpointSliceRecord Slice)>();
        if (!_options.NoEndpoints)
        {
            foreach (var slice in slices)
            {
                foreach (var endpoint in slice.Endpoints)
                {
                    if (!endpoint.Ready && !service.PublishNotReadyAddresses) continue;
                    for (var i = 0; i < endpoint.AddressCount; i++)
                    {
                        var address = endpoint.Address(i);
                        endpoints.Add((new Endpoint(address, EndpointLabel(endpoint, address)), slice));
                    }
                }
            }
        }
        if (service.Kind == ServiceKind.ClusterIP && _options.IgnoreEmptyService && endpoints.Count == 0) return;
        if (service.Kind == ServiceKind.Headless && endpoints.Count == 0) return; // nothing to answer: NXDOMAIN, as CoreDNS

        foreach (var zone in _forwardZones)
        {
            var baseName = RecordEncoding.Name(zone, service.Name, service.Namespace, "svc");
            switch (service.Kind)
            {
                case ServiceKind.ExternalName:
                    if (service.ExternalName is { Length: > 0 } target && TryEncode(target, out var targetName))
                        parts.Add((baseName, new RecordPart(owner, DnsType.CNAME, RecordEncoding.AtQuestion(DnsType.CNAME, Ttl, targetName))));
                    else
                        parts.Add((baseName, new RecordPart(owner, 0, [])));
                    break;
                case ServiceKind.ClusterIP:
                    BuildClusterIp(service, baseName, endpoints, owner, parts);
                    break;
                case ServiceKind.Headless:
                    BuildHeadless(baseName, endpoints, owner, parts);
                    break;
            }
            if (service.Kind == ServiceKind.ClusterIP && service.Namespace == "kube-system" && service.Name == "kube-dns")
            {
                var nsName = RecordEncoding.Name(zone, "ns", "dns");
                foreach (var ip in service.ClusterIPs) parts.Add((nsName, AddressPart(owner, ip)));
            }
        }
        if (service.Kind != ServiceKind.ExternalName) BuildReverse(service, endpoints, owner, parts);
    }

    private void BuildClusterIp(ServiceRecord service, byte[] baseName, List<(Endpoint Endpoint, EndpointSliceRecord Slice)> endpoints, object owner,
        List<(byte[] Name, RecordPart Part)> parts)
    {
        foreach (var ip in service.ClusterIPs) parts.Add((baseName, AddressPart(owner, ip)));
        if (service.ClusterIPs.Length == 0) parts.Add((baseName, new RecordPart(owner, 0, [])));
        var glue = Glue(baseName, service.ClusterIPs, out var glueCount);
        var all = new List<SrvTarget>();
        foreach (var port in service.Ports)
        {
            if (port.Port is <= 0 or > 65535) continue;
            var target = new SrvTarget(baseName, port.Port, glue, glueCount);
            all.Add(target);
            if (port.Name is { } portName) AddSrv(RecordEncoding.Name(baseName, "_" + portName, "_" + port.Protocol), [target], owner, parts);
        }
        AddSrv(baseName, all, owner, parts);
        // CoreDNS also answers <endpoint>.<svc>.<ns>.svc for the endpoints of a ClusterIP service.
        foreach (var (endpoint, _) in endpoints) parts.Add((RecordEncoding.Name(baseName, endpoint.Label), AddressPart(owner, endpoint.Address)));
    }

    private void BuildHeadless(byte[] baseName, List<(Endpoint Endpoint, EndpointSliceRecord Slice)> endpoints, object owner, List<(byte[] Name, RecordPart Part)> parts)
    {
        var all = new List<SrvTarget>();
        var byPort = new Dictionary<(string Name, string Protocol), List<SrvTarget>>();
        foreach (var (endpoint, slice) in endpoints)
        {
            parts.Add((baseName, AddressPart(owner, endpoint.Address)));
            var endpointName = RecordEncoding.Name(baseName, endpoint.Label);
            parts.Add((endpointName, AddressPart(owner, endpoint.Address)));
            var glue = Glue(endpointName, [endpoint.Address], out var glueCount);
            foreach (var port in slice.Ports)
            {
                if (port.Port is <= 0 or > 65535) continue;
                var target = new SrvTarget(endpointName, port.Port, glue, glueCount);
                all.Add(target);
                if (port.Name is { } portName)
                {
                    if (!byPort.TryGetValue((portName, port.Protocol), out var list)) byPort[(portName, port.Protocol)] = list = [];
                    list.Add(target);
                }
            }
        }
        foreach (var ((portName, protocol), targets) in byPort) AddSrv(RecordEncoding.Name(baseName, "_" + portName, "_" + protocol), targets, owner, parts);
        AddSrv(baseName, all, owner, parts);
    }

    private void BuildReverse(ServiceRecord service, List<(Endpoint Endpoint, EndpointSliceRecord Slice)> endpoints, object owner, List<(byte[] Name, RecordPart Part)> parts)
    {
        var serviceTarget = RecordEncoding.Name(_primaryZone, service.Name, service.Namespace, "svc");
        foreach (var ip in service.ClusterIPs) AddPtr(ip, serviceTarget, owner, parts);
        foreach (var (endpoint, _) in endpoints) AddPtr(endpoint.Address, RecordEncoding.Name(serviceTarget, endpoint.Label), owner, parts);
    }

    private void AddPtr(byte[] address, byte[] target, object owner, List<(byte[] Name, RecordPart Part)> parts)
    {
        var reverse = RecordEncoding.ReverseName(address);
        foreach (var zone in _allZones)
        {
            if (!DnsName.IsSubdomain(reverse, zone)) continue;
            parts.Add((reverse, new RecordPart(owner, DnsType.PTR, RecordEncoding.AtQuestion(DnsType.PTR, Ttl, target))));
            return;
        }
    }

    /// <summary>SRV records at one name; the weight splits 100 among them as CoreDNS does (priority 0).</summary>
    private void AddSrv(byte[] name, List<SrvTarget> targets, object owner, List<(byte[] Name, RecordPart Part)> parts)
    {
        if (targets.Count == 0) return;
        var weight = (ushort)(100 / targets.Count);
        foreach (var target in targets)
        {
            var rdata = DnsRecordEncoder.SrvData(0, weight, (ushort)target.Port, target.Target);
            parts.Add((name, new RecordPart(owner, DnsType.SRV, RecordEncoding.AtQuestion(DnsType.SRV, Ttl, rdata), target.Additional, target.AdditionalCount)));
        }
    }

    private RecordPart AddressPart(object owner, byte[] address) =>
        new(owner, RecordEncoding.AddressType(address), RecordEncoding.AtQuestion(RecordEncoding.AddressType(address), Ttl, address));

    private byte[] Glue(byte[] owner, byte[][] addresses, out int count)
    {
        using var stream = new MemoryStream();
        foreach (var address in addresses) stream.Write(RecordEncoding.At(owner, RecordEncoding.AddressType(address), Ttl, address));
        count = addresses.Length;
        return stream.ToArray();
    }

    /// <summary>hostname, else (endpoint_pod_names) the Pod's name when it fits a label, else the dashed address.</summary>
    private string EndpointLabel(EndpointRecord endpoint, byte[] address)
    {
        if (endpoint.Hostname is { Length: > 0 and <= DnsName.MaxLabelLength } hostname) return hostname;
        if (_options.EndpointPodNames && endpoint.PodName is { Length: > 0 and <= DnsName.MaxLabelLength } podName) return podName;
        return RecordEncoding.Dashed(address);
    }

    private static bool TryEncode(string name, out byte[] wire)
    {
        try
        {
            wire = DnsName.Encode(name, lowerCase: false);
            return true;
        }
        catch (FormatException)
        {
            wire = [];
            return false;
        }
    }
}
