using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Any;

/// <summary>
/// any: answers every ANY query with RFC 8482's minimal answer, one HINFO record <c>"ANY obsoleted" "See RFC 8482"</c>
/// with TTL 8482 (CoreDNS's exact answer), so ANY cannot be used to amplify; other queries go on.
/// </summary>
public sealed class AnyPlugin : DnsPlugin
{
    public const string PluginName = "any";
    public const uint Ttl = 8482;

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    // HINFO rdata: two character-strings, CPU and OS.
    private static readonly byte[] HinfoData = DnsRecordEncoder.TxtData("ANY obsoleted", "See RFC 8482");

    public override string Name => PluginName;

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        directive.ExpectNoArguments();
        directive.ExpectNoBlock();
        return new AnyPlugin();
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        if (request.QType != DnsType.ANY) return NextOrFailure(request, writer);
        var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NoError, authoritative: false);
        builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, DnsType.HINFO, Ttl, HinfoData);
        var length = builder.Finish();
        writer.Write(request, request.ResponseBuffer[..length]);
        return new ValueTask<int>(DnsRcode.NoError);
    }
}
