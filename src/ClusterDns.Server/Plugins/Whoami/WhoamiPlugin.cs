using System.Buffers.Binary;
using System.Net.Sockets;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Whoami;

/// <summary>
/// whoami: answers every query with the client's address (A or AAAA) and its port and transport (SRV
/// <c>_udp.</c>/<c>_tcp.</c>) in the additional section, as CoreDNS's whoami does.
/// </summary>
public sealed class WhoamiPlugin : DnsPlugin
{
    public const string PluginName = "whoami";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    public override string Name => PluginName;

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        directive.ExpectNoArguments();
        directive.ExpectNoBlock();
        return new WhoamiPlugin();
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        var remote = request.RemoteEndPoint;
        var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NoError, authoritative: true);
        builder.StartSection(DnsSection.Additional);
        Span<byte> address = stackalloc byte[16];
        remote.Address.TryWriteBytes(address, out var addressLength);
        var type = remote.Address.AddressFamily == AddressFamily.InterNetworkV6 ? DnsType.AAAA : DnsType.A;
        builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, type, 0, address[..addressLength]);

        // SRV owner: _udp.<qname> or _tcp.<qname>, target the query name.
        Span<byte> owner = stackalloc byte[DnsName.MaxWireLength + 6];
        owner[0] = 4;
        "_udp"u8.CopyTo(owner[1..]);
        if (request.Transport == DnsTransport.Tcp) "_tcp"u8.CopyTo(owner[1..]);
        owner[5] = 0xC0;
        owner[6] = 0x0C;
        Span<byte> srv = stackalloc byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(srv, 0);
        BinaryPrimitives.WriteUInt16BigEndian(srv[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(srv[4..], (ushort)remote.Port);
        srv[6] = 0xC0;
        srv[7] = 0x0C;
        builder.AppendRecord(owner[..7], DnsType.SRV, 0, srv);
        var length = builder.Finish();
        writer.Write(request, request.ResponseBuffer[..length]);
        return new ValueTask<int>(DnsRcode.NoError);
    }
}
