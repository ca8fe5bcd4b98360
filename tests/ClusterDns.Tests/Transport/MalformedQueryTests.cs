using System.Buffers.Binary;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Transport;

/// <summary>Hostile or broken packets get FORMERR (when there is a header to answer) or nothing, and the server goes on.</summary>
public sealed class MalformedQueryTests : IAsyncLifetime
{
    private TestDnsServer _server = null!;

    public async Task InitializeAsync() => _server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static byte[] Header(ushort id, ushort questions, ushort answers = 0) 
    {
        var header = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, id);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), 0x0100);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), questions);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(6), answers);
        return header;
    }

    public static TheoryData<string, byte[]> FormatErrors() => new()
    {
        { "compression pointer loop", [.. Header(1, 1), 0xC0, 0x0C, 0, 1, 0, 1] },
        { "pointer forward past itself", [.. Header(2, 1), 0xC0, 0x20, 0, 1, 0, 1] },
        { "pointer into the header", [.. Header(9, 1), 3, (byte)'w', (byte)'w', (byte)'w', 0xC0, 0x09, 0, 1, 0, 1] },
        { "pointer back into its own labels", [.. Header(10, 1), 1, (byte)'a', 1, (byte)'b', 0xC0, 0x0E, 0, 1, 0, 1] },
        { "label over 63 bytes", [.. Header(3, 1), 64, .. new byte[64], 0, 0, 1, 0, 1] },
        { "name over 255 bytes", [.. Header(4, 1), .. Enumerable.Range(0, 5).SelectMany(_ => new byte[] { 63 }.Concat(Enumerable.Repeat((byte)'a', 63))), 0, 0, 1, 0, 1] },
        { "question cut short", [.. Header(5, 1), 3, (byte)'c', (byte)'o'] },
        { "answer count larger than the packet", [.. Header(6, 1, answers: 50), 1, (byte)'a', 0, 0, 1, 0, 1] },
        { "two questions", [.. Header(7, 2), 1, (byte)'a', 0, 0, 1, 0, 1, 1, (byte)'b', 0, 0, 1, 0, 1] },
        { "no question", Header(8, 0) },
    };

    [Theory]
    [MemberData(nameof(FormatErrors))]
    public async Task Malformed_query_gets_formerr_with_its_id_and_the_next_query_is_answered(string what, byte[] packet)
    {
        var reply = await DnsTestClient.ExchangeUdpAsync(_server.EndPoint, packet);

        Assert.True(reply is not null, what);
        Assert.Equal(packet[0..2], reply[0..2]);
        Assert.Equal(1, reply[3] & 0xF);
        Assert.NotEqual(0, reply[2] & 0x80);
        await AssertStillAnswersAsync();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(11)]
    public async Task Packet_shorter_than_a_header_is_dropped(int length)
    {
        var reply = await DnsTestClient.ExchangeUdpAsync(_server.EndPoint, new byte[length], TimeSpan.FromMilliseconds(300));

        Assert.Null(reply);
        await AssertStillAnswersAsync();
    }

    [Fact]
    public async Task A_response_is_never_answered()
    {
        var packet = DnsTestClient.BuildQuery("reflect.example.", DnsType.A);
        packet[2] |= 0x80;

        Assert.Null(await DnsTestClient.ExchangeUdpAsync(_server.EndPoint, packet, TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Unknown_opcode_gets_notimp()
    {
        var packet = DnsTestClient.BuildQuery("update.example.", DnsType.A);
        packet[2] = (byte)((packet[2] & 0x87) | (5 << 3)); // UPDATE

        var reply = await DnsTestClient.ExchangeUdpAsync(_server.EndPoint, packet);

        Assert.NotNull(reply);
        Assert.Equal(4, reply[3] & 0xF);
    }

    [Fact]
    public async Task Thousands_of_random_packets_never_stop_the_server()
    {
        var random = new Random(20261125);
        var good = DnsTestClient.BuildQuery("fuzz.example.", DnsType.A);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        socket.Connect(_server.EndPoint);
        for (var i = 0; i < 5000; i++)
        {
            // Half purely random, half a real query with a few bytes flipped.
            byte[] packet;
            if (i % 2 == 0)
            {
                packet = new byte[random.Next(0, 600)];
                random.NextBytes(packet);
            }
            else
            {
                packet = (byte[])good.Clone();
                for (var flips = random.Next(1, 4); flips > 0; flips--) packet[random.Next(packet.Length)] = (byte)random.Next(256);
            }
            socket.Send(packet);
            if (i % 500 == 0) await AssertStillAnswersAsync();
        }
        await AssertStillAnswersAsync();
    }

    private async Task AssertStillAnswersAsync()
    {
        var response = await _server.QueryAsync("alive.example.", DnsType.A);
        Assert.Equal(MessageStatus.NoError, response.Status);
        Assert.Equal("alive.example", response.Questions[0].Name.ToString());
    }
}
