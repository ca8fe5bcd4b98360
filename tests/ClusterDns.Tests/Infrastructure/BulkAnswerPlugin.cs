using System.Net;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Tests.Infrastructure;

/// <summary>
/// A test plugin (registered under the name "whoami" in a test catalog) that answers with as many A records as the
/// Corefile asks, to produce answers larger than a UDP client accepts.
/// </summary>
public sealed class BulkAnswerPlugin(int count) : DnsPlugin
{
    public override string Name => "whoami";

    public static PluginCatalog Catalog() => new PluginCatalog().Add(new PluginDefinition("whoami",
        (context, directive) => new BulkAnswerPlugin(directive.Arguments.Count > 0 ? directive.ParseInt(directive.Arguments[0], 1, 2000) : 1)));

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NoError, authoritative: true);
        Span<byte> address = stackalloc byte[4];
        for (var i = 0; i < count; i++)
        {
            new IPAddress([10, 0, (byte)(i >> 8), (byte)i]).TryWriteBytes(address, out _);
            builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, DnsType.A, 60, address);
        }
        var length = builder.Finish();
        writer.Write(request, request.ResponseBuffer[..length]);
        return new ValueTask<int>(DnsRcode.NoError);
    }
}
