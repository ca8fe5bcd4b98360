namespace ClusterDns.Server.Pipeline;

/// <summary>
/// How loadbalance reorders a finished response, in place, as it leaves (after every plugin, cache included, is done
/// with its own bytes). Implementations are shared by every query of a configuration and must not allocate.
/// </summary>
public interface IAnswerOrder
{
    void Apply(DnsRequestContext request, Span<byte> message, Random random);
}
