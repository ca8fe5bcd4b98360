using System.Net.Sockets;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Listeners;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Transport;

public sealed class TcpTransportTests
{
    [Fact]
    public async Task Pipelined_queries_on_one_connection_are_all_answered()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");
        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint);
        var stream = client.GetStream();

        for (ushort id = 1; id <= 10; id++) await DnsTestClient.WriteFrameAsync(stream, DnsTestClient.BuildQuery($"q{id}.example.", DnsType.A, id: id));

        using var cts = new CancellationTokenSource(DnsTestClient.Timeout);
        var seen = new HashSet<ushort>();
        for (var i = 0; i < 10; i++)
        {
            var frame = await DnsTestClient.ReadFrameAsync(stream, cts.Token);
            Assert.NotNull(frame);
            var response = DnsTestClient.Parse(frame);
            Assert.Equal($"q{response.Id}.example", response.Questions[0].Name.ToString());
            seen.Add(response.Id);
        }
        Assert.Equal(10, seen.Count);
    }

    [Fact]
    public async Task Connection_cap_closes_the_longest_idle_connection_so_a_new_client_is_served()
    {
        var options = new DnsServerHostOptions { DefaultPort = 0, UdpSocketsPerAddress = 1, Tcp = new TcpListenerOptions { MaxConnections = 4, IdleTimeout = TimeSpan.FromMinutes(1) } };
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n", options: options);
        var idle = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var stalled = new TcpClient();
                await stalled.ConnectAsync(server.EndPoint);
                await stalled.GetStream().WriteAsync(new byte[] { 0 }); // half a length prefix, then silence
                idle.Add(stalled);
                await Task.Delay(50); // distinct idle ages: idle[0] is the longest idle
            }
            await Task.Delay(200);

            var answer = await DnsTestClient.ExchangeTcpAsync(server.EndPoint, DnsTestClient.BuildQuery("after-cap.example.", DnsType.A));

            Assert.NotNull(answer);
            Assert.Equal("after-cap.example", DnsTestClient.Parse(answer).Questions[0].Name.ToString());
            // The first stalled connection is the longest idle: the server closed it to make room.
            await AssertClosedByServerAsync(idle[0]);
        }
        finally
        {
            foreach (var client in idle) client.Dispose();
        }
    }

    [Fact]
    public async Task Half_sent_frame_is_closed_after_the_idle_timeout_while_others_are_served()
    {
        var options = new DnsServerHostOptions { DefaultPort = 0, UdpSocketsPerAddress = 1, Tcp = new TcpListenerOptions { IdleTimeout = TimeSpan.FromSeconds(1) } };
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n", options: options);
        using var stalled = new TcpClient();
        await stalled.ConnectAsync(server.EndPoint);
        var query = DnsTestClient.BuildQuery("stalled.example.", DnsType.A);
        await stalled.GetStream().WriteAsync(new byte[] { 0, (byte)query.Length });
        await stalled.GetStream().WriteAsync(query.AsMemory(0, 5));

        var other = await DnsTestClient.ExchangeTcpAsync(server.EndPoint, DnsTestClient.BuildQuery("other.example.", DnsType.A));
        Assert.NotNull(other);

        await AssertClosedByServerAsync(stalled);
    }

    [Fact]
    public async Task Zero_length_frame_closes_the_connection_and_the_server_keeps_serving()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(server.EndPoint);
            await client.GetStream().WriteAsync(new byte[] { 0, 0 });
            await AssertClosedByServerAsync(client);
        }

        var answer = await DnsTestClient.ExchangeTcpAsync(server.EndPoint, DnsTestClient.BuildQuery("next.example.", DnsType.A));
        Assert.NotNull(answer);
    }

    [Fact]
    public async Task Frame_of_garbage_gets_formerr_or_close_and_the_next_query_is_answered()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");
        var garbage = new byte[65535];
        new Random(7).NextBytes(garbage);
        garbage[2] &= 0x07; // a standard query, not a response
        garbage[4] = 0x12; // and not exactly one question

        var reply = await DnsTestClient.ExchangeTcpAsync(server.EndPoint, garbage);
        if (reply is not null) Assert.Equal(1, reply[3] & 0xF); // FORMERR

        var answer = await DnsTestClient.ExchangeTcpAsync(server.EndPoint, DnsTestClient.BuildQuery("next.example.", DnsType.A));
        Assert.NotNull(answer);
    }

    /// <summary>The server closed the connection: the read ends (FIN) or fails (RST) before the deadline.</summary>
    private static async Task AssertClosedByServerAsync(TcpClient client)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            Assert.Equal(0, await client.GetStream().ReadAsync(new byte[16], cts.Token));
        }
        catch (IOException)
        {
        }
    }
}
