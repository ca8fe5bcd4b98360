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
    public async Task Queries_arriving_in_one_segment_before_a_zero_length_frame_are_all_answered_in_order_then_closed()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");
        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint);
        var stream = client.GetStream();
        var segment = new MemoryStream();
        for (ushort id = 1; id <= 200; id++)
        {
            var query = DnsTestClient.BuildQuery($"q{id}.example.", DnsType.A, id: id);
            segment.Write([(byte)(query.Length >> 8), (byte)query.Length]);
            segment.Write(query);
        }
        segment.Write([0, 0]);
        await stream.WriteAsync(segment.ToArray()); // about 6 KB: many frames per server read, the answers held and sent together

        using var cts = new CancellationTokenSource(DnsTestClient.Timeout);
        for (ushort id = 1; id <= 200; id++)
        {
            var frame = await DnsTestClient.ReadFrameAsync(stream, cts.Token);
            Assert.NotNull(frame);
            var response = DnsTestClient.Parse(frame);
            Assert.Equal(id, response.Id);
            Assert.Equal($"q{id}.example", response.Questions[0].Name.ToString());
        }
        await AssertClosedByServerAsync(client);
    }

    [Fact]
    public async Task A_frame_larger_than_the_read_buffer_split_across_writes_is_answered()
    {
        await using var server = await TestDnsServer.StartAsync(". {\n    whoami\n}\n");
        using var client = new TcpClient();
        await client.ConnectAsync(server.EndPoint);
        var stream = client.GetStream();
        // A query padded with an EDNS option to 20,000 bytes: past the connection's 16 KiB buffer.
        var query = DnsTestClient.BuildQuery("big.example.", DnsType.A, id: 77);
        var padded = new byte[20_000];
        query.CopyTo(padded, 0);
        padded[11] = 1; // ARCOUNT 1: an OPT record follows
        var at = query.Length;
        padded[at++] = 0; padded[at++] = 0; padded[at++] = 41; // root, OPT
        padded[at++] = 0x10; padded[at++] = 0; // UDP size 4096
        at += 4; // extended rcode, version, flags
        var rdLength = padded.Length - at - 2;
        padded[at++] = (byte)(rdLength >> 8); padded[at++] = (byte)rdLength;
        padded[at++] = 0xFF; padded[at++] = 0x00; // option code 65280 (local use)
        var optionLength = rdLength - 4;
        padded[at++] = (byte)(optionLength >> 8); padded[at++] = (byte)optionLength;

        await stream.WriteAsync((byte[])[(byte)(padded.Length >> 8), (byte)padded.Length, .. padded.AsSpan(0, 9000)]);
        await Task.Delay(100);
        await stream.WriteAsync(padded.AsMemory(9000));

        using var cts = new CancellationTokenSource(DnsTestClient.Timeout);
        var frame = await DnsTestClient.ReadFrameAsync(stream, cts.Token);
        Assert.NotNull(frame);
        var response = DnsTestClient.Parse(frame);
        Assert.Equal(77, response.Id);
        Assert.Equal("big.example", response.Questions[0].Name.ToString());
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
