using ClusterDns.Server.Wire;

namespace ClusterDns.Kubernetes.Records;

/// <summary>
/// One zone's own records, rebuilt when the data changes: the SOA as CoreDNS writes it (mname ns.dns.ZONE, rname
/// hostmaster.ZONE, serial the time of the last change, 7200 1800 86400, minimum = ttl), for the answer and for the
/// authority of negative answers, and the NS ns.dns.ZONE with the kube-dns Service's addresses as glue.
/// </summary>
public sealed class ZoneRecords
{
    public required byte[] Wire { get; init; }
    public required byte[] SoaAnswer { get; init; }
    public required byte[] SoaAuthority { get; init; }
    public required byte[] NsAnswer { get; init; }
    public required byte[] NsAdditional { get; init; }
    public required int NsAdditionalCount { get; init; }

    public static ZoneRecords Create(string zone, uint serial, uint ttl, byte[][] nameserverAddresses)
    {
        var wire = DnsName.Encode(zone);
        var mname = RecordEncoding.Name(wire, "ns", "dns");
        var rname = RecordEncoding.Name(wire, "hostmaster");
        var soa = DnsRecordEncoder.SoaData(mname, rname, serial, 7200, 1800, 86400, ttl);
        using var glue = new MemoryStream();
        foreach (var address in nameserverAddresses) glue.Write(RecordEncoding.At(mname, RecordEncoding.AddressType(address), ttl, address));
        return new ZoneRecords
        {
            Wire = wire,
            SoaAnswer = RecordEncoding.AtQuestion(DnsType.SOA, ttl, soa),
            SoaAuthority = RecordEncoding.At(wire, DnsType.SOA, ttl, soa),
            NsAnswer = RecordEncoding.AtQuestion(DnsType.NS, ttl, mname),
            NsAdditional = glue.ToArray(),
            NsAdditionalCount = nameserverAddresses.Length,
        };
    }
}
