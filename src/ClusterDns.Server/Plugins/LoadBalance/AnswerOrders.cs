using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.LoadBalance;

/// <summary>round_robin: every A, AAAA and MX record of the answer in random order.</summary>
public sealed class RoundRobinAnswerOrder : IAnswerOrder
{
    public static readonly RoundRobinAnswerOrder Instance = new();

    public void Apply(DnsRequestContext request, Span<byte> message, Random random) => DnsAnswerShuffler.Shuffle(message, random);
}

/// <summary>
/// weighted: for A, AAAA and SRV queries, one address record of the answer (and one of the additional section, the
/// SRV targets' addresses) is drawn with the probability of its weight and put first among the addresses; the other
/// records keep their order, as CoreDNS's weighted policy does.
/// </summary>
public sealed class WeightedAnswerOrder : IAnswerOrder
{
    private volatile WeightTable _weights = WeightTable.Empty;

    public WeightTable Weights
    {
        get => _weights;
        set => _weights = value;
    }

    public void Apply(DnsRequestContext request, Span<byte> message, Random random)
    {
        if (request.QType is not (DnsType.A or DnsType.AAAA or DnsType.SRV)) return;
        var weights = _weights;
        PromoteOne(message, DnsAnswerShuffler.AnswerSection, weights, random);
        PromoteOne(message, DnsAnswerShuffler.AdditionalSection, weights, random);
    }

    private static void PromoteOne(Span<byte> message, int sectionIndex, WeightTable weights, Random random)
    {
        var section = new DnsAnswerShuffler.Section { Starts = stackalloc int[DnsAnswerShuffler.MaxRecords], Lengths = stackalloc int[DnsAnswerShuffler.MaxRecords] };
        DnsAnswerShuffler.Read(message, sectionIndex, ref section);
        if (section.Count < 1) return;
        Span<byte> owner = stackalloc byte[DnsName.MaxWireLength];
        Span<byte> recordWeights = stackalloc byte[section.Count];
        int first = -1, addresses = 0, total = 0;
        for (var i = 0; i < section.Count; i++)
        {
            recordWeights[i] = 0;
            if (DnsAnswerShuffler.TypeOf(message, section, i) is not (DnsType.A or DnsType.AAAA)) continue;
            if (!DnsName.TryRead(message, section.Starts[i], owner, out var ownerLength, out _)) return;
            recordWeights[i] = weights.WeightOf(owner[..ownerLength], DnsAnswerShuffler.DataOf(message, section, i));
            total += recordWeights[i];
            if (addresses++ == 0) first = i;
        }
        if (addresses < 2) return;
        var draw = random.Next(total);
        for (var i = first; i < section.Count; i++)
        {
            draw -= recordWeights[i];
            if (draw < 0)
            {
                DnsAnswerShuffler.Swap(message, section, first, i);
                return;
            }
        }
    }
}
