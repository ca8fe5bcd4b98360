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

        // SRV _udp.<qname> (or _tcp), target <qname>, port the client's: names copied from the question as the
        // client wrote it (a question name is never compressed).
        var name = request.Question[..request.QNameLength];
        Span<byte> owner = stackalloc byte[5 + DnsName.MaxWireLength];
        owner[0] = 4;
        (request.Transport == DnsTransport.Tcp ? "_tcp"u8 : "_udp"u8).CopyTo(owner[1..]);
        name.CopyTo(owner[5..]);
        Span<byte> srv = stackalloc byte[6 + DnsName.MaxWireLength];
        BinaryPrimitives.WriteUInt16BigEndian(srv, 0);
        BinaryPrimitives.WriteUInt16BigEndian(srv[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(srv[4..], (ushort)remote.Port);
        name.CopyTo(srv[6..]);
        builder.AppendRecord(owner[..(5 + name.Length)], DnsType.SRV, 0, srv[..(6 + name.Length)]);
        var length = builder.Finish();
        writer.Write(request, request.ResponseBuffer[..length]);
        return new ValueTask<int>(DnsRcode.NoError);
    }
}
