using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Server.Plugins.LoadBalance;

/// <summary>
/// loadbalance: shuffles the A, AAAA and MX records of every answer (round_robin), as CoreDNS's loadbalance does.
/// The shuffle happens where the response leaves (the transport's finalizer), so whoever answers, cache included,
/// never has its own bytes changed.
/// </summary>
public sealed class LoadBalancePlugin : DnsPlugin
{
    public const string PluginName = "loadbalance";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    public override string Name => PluginName;

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        directive.ExpectArgumentCount(0, 1);
        if (directive.Arguments.Count == 1)
        {
            var policy = directive.Arguments[0].Text;
            if (policy == "weighted") throw directive.Error("the weighted policy is not supported yet; use round_robin");
            if (policy != "round_robin") throw directive.Error($"unknown policy '{policy}'");
        }
        directive.ExpectNoBlock();
        return new LoadBalancePlugin();
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        request.ShuffleAnswers = true;
        return NextOrFailure(request, writer);
    }
}
