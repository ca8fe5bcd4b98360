using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Benchmarks;

/// <summary>
/// Stands in for an upstream behind cache (registered in whoami's place, so the Corefile's plugin order holds): answers
/// any name with one A record and counts how often it was asked, so a benchmark can check that cache answered.
/// </summary>
public sealed class StandInUpstream : DnsPlugin
{
    public static readonly PluginDefinition Definition = new("whoami", (_, _) => new StandInUpstream());

    public static int Calls { get; private set; }

    public override string Name => "whoami";

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        Calls++;
        var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NoError, authoritative: false);
        builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, DnsType.A, 300, [192, 0, 2, 1]);
        var length = builder.Finish();
        writer.Write(request, request.ResponseBuffer[..length]);
        return new ValueTask<int>(DnsRcode.NoError);
    }
}
