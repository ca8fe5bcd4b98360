using Makaretu.Dns;

namespace ClusterDns.Benchmarks;

/// <summary>Queries as a stub resolver sends them: one question, RD, an EDNS OPT of 1232 bytes.</summary>
public static class Queries
{
    public static byte[] Build(string name, DnsType type, ushort id = 0x4d2)
    {
        var message = new Message { Id = id, RD = true };
        message.Questions.Add(new Question { Name = name, Type = type, Class = DnsClass.IN });
        message.AdditionalRecords.Add(new OPTRecord { RequestorPayloadSize = 1232 });
        return message.ToByteArray();
    }
}
