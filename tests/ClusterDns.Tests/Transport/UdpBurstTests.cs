using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Listeners.Native;
using ClusterDns.Server.Pipeline;
using DnsRcode = ClusterDns.Server.Wire.DnsRcode;
using DnsMessageBuilder = ClusterDns.Server.Wire.DnsMessageBuilder;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.Tests.Transport;

/// <summary>
/// Bursts of queries from several client sockets at once, so the batched loop (recvmmsg/sendmmsg) gets many datagrams
/// per call: every query must get its own answer, at its own client, whichever loop runs.
/// </summary>
public sealed class UdpBurstTests
{
    private const int QueriesPerClient = 40;

    [Fact]
    public void Linux_has_the_batched_loop()
    {
        Assert.Equal(OperatingSystem.IsLinux() && Environment.Is64BitProcess, LinuxDatagramBatch.IsSupported);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_client_of_a_dual_mode_listener_gets_its_own_answers_with_its_own_address(bool batched)
    {
        await using var server = await StartAsync(". {\n    whoami\n}\n", null, batched);
        var clients = new List<Socket>();
        for (var i = 0; i < 4; i++) clients.Add(Connect(new IPEndPoint(IPAddress.Loopback, server.Port)));
        for (var i = 0; i < 4; i++) clients.Add(Connect(new IPEndPoint(IPAddress.IPv6Loopback, server.Port)));
        try
        {
            var answers = await BurstAsync(clients, (client, n) => $"q{n}.c{client}.example.");

            for (var c = 0; c < clients.Count; c++)
            {
                var local = (IPEndPoint)clients[c].LocalEndPoint!;
                foreach (var (n, response) in answers[c])
                {
                    Assert.Equal($"q{n}.c{c}.example", response.Questions[0].Name.ToString());
                    var address = Assert.Single(response.AdditionalRecords.OfType<AddressRecord>());
                    Assert.Equal(local.Address, address.Address);
                    Assert.Equal(local.Port, Assert.Single(response.AdditionalRecords.OfType<SRVRecord>()).Port);
                }
            }
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_ipv4_listener_answers_each_client_of_a_burst(bool batched)
    {
        await using var server = await StartAsync(". {\n    bind 127.0.0.1\n    whoami\n}\n", null, batched);
        var clients = new List<Socket>();
        for (var i = 0; i < 6; i++) clients.Add(Connect(new IPEndPoint(IPAddress.Loopback, server.Port)));
        try
        {
            var answers = await BurstAsync(clients, (client, n) => $"q{n}.c{client}.example.");

            for (var c = 0; c < clients.Count; c++)
            {
                var local = (IPEndPoint)clients[c].LocalEndPoint!;
                foreach (var (_, response) in answers[c])
                    Assert.Equal(local.Port, Assert.Single(response.AdditionalRecords.OfType<SRVRecord>()).Port);
            }
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_burst_mixing_immediate_delayed_and_truncated_answers_gets_all_of_them(bool batched)
    {
        await using var server = await StartAsync(". {\n    whoami\n}\n", MixedAnswerPlugin.Catalog(), batched);
        var clients = new List<Socket>();
        for (var i = 0; i < 3; i++) clients.Add(Connect(new IPEndPoint(IPAddress.Loopback, server.Port)));
        clients.Add(Connect(new IPEndPoint(IPAddress.IPv6Loopback, server.Port)));
        try
        {
            var answers = await BurstAsync(clients, (client, n) => $"{MixedAnswerPlugin.Kind(n)}{n}.c{client}.example.");

            for (var c = 0; c < clients.Count; c++)
            {
                foreach (var (n, response) in answers[c])
                {
                    Assert.Equal($"{MixedAnswerPlugin.Kind(n)}{n}.c{c}.example", response.Questions[0].Name.ToString());
                    if (MixedAnswerPlugin.Kind(n) == "big")
                    {
                        Assert.True(response.TC);
                        Assert.Empty(response.Answers);
                    }
                    else
                    {
                        Assert.False(response.TC);
                        var record = Assert.Single(response.Answers.OfType<ARecord>());
                        Assert.Equal(MixedAnswerPlugin.AddressOf(n), record.Address);
                    }
                }
            }
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    private static Task<TestDnsServer> StartAsync(string corefile, PluginCatalog? catalog, bool batched) =>
        TestDnsServer.StartAsync(corefile, catalog, options: new DnsServerHostOptions { DefaultPort = 0, UdpSocketsPerAddress = 1, BatchedUdp = batched });

    private static Socket Connect(IPEndPoint server)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        socket.Connect(server);
        return socket;
    }

    /// <summary>
    /// Sends <see cref="QueriesPerClient"/> queries from every client, interleaved, before reading any answer; returns
    /// each client's answers by query number, after checking that each came exactly once with the ID it was sent with.
    /// </summary>
    private static async Task<List<Dictionary<int, Message>>> BurstAsync(List<Socket> clients, Func<int, int, string> name)
    {
        for (var n = 0; n < QueriesPerClient; n++)
        {
            for (var c = 0; c < clients.Count; c++)
                clients[c].Send(DnsTestClient.BuildQuery(name(c, n), DnsType.A, id: IdOf(c, n)));
        }
        var answers = new List<Dictionary<int, Message>>();
        for (var c = 0; c < clients.Count; c++)
        {
            var client = clients[c];
            var received = await Task.Run(() => ReceiveAll(client));
            var byNumber = new Dictionary<int, Message>();
            foreach (var response in received)
            {
                var n = response.Id - IdOf(c, 0);
                Assert.InRange(n, 0, QueriesPerClient - 1);
                Assert.True(byNumber.TryAdd(n, response), $"client {c} got query {n} answered twice");
            }
            Assert.Equal(QueriesPerClient, byNumber.Count);
            answers.Add(byNumber);
        }
        return answers;
    }

    private static ushort IdOf(int client, int n) => (ushort)(1000 * (client + 1) + n);

    private static List<Message> ReceiveAll(Socket client)
    {
        var buffer = new byte[65535];
        var responses = new List<Message>();
        try
        {
            while (responses.Count < QueriesPerClient)
            {
                var length = client.Receive(buffer);
                responses.Add(DnsTestClient.Parse(buffer[..length]));
            }
        }
        catch (SocketException exception) when (exception.SocketErrorCode == SocketError.TimedOut)
        {
            // Fewer answers than queries: the caller's count says which client went short.
        }
        return responses;
    }

    /// <summary>
    /// A stand-in answering by the first label: "slow" after a delay (the query leaves the batch and answers from
    /// another thread), "big" with 100 records (over 512 bytes, so truncated), anything else at once with one record.
    /// </summary>
    private sealed class MixedAnswerPlugin : DnsPlugin
    {
        public override string Name => "whoami";

        public static PluginCatalog Catalog() => new PluginCatalog().Add(new PluginDefinition("whoami", (_, _) => new MixedAnswerPlugin()));

        public static string Kind(int n) => (n % 3) switch { 0 => "slow", 1 => "big", _ => "now" };

        public static IPAddress AddressOf(int n) => new([10, 0, 0, (byte)n]);

        public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
        {
            var label = request.QName.Slice(1, request.QName[0]);
            var number = int.Parse(label[label.IndexOfAnyInRange((byte)'0', (byte)'9')..]);
            if (label.StartsWith("slow"u8)) return AnswerLaterAsync(request, writer, number);
            Answer(request, writer, label.StartsWith("big"u8) ? 100 : 1, number);
            return new ValueTask<int>(DnsRcode.NoError);
        }

        private static async ValueTask<int> AnswerLaterAsync(DnsRequestContext request, IDnsResponseWriter writer, int number)
        {
            await Task.Delay(20).ConfigureAwait(false);
            Answer(request, writer, 1, number);
            return DnsRcode.NoError;
        }

        private static void Answer(DnsRequestContext request, IDnsResponseWriter writer, int count, int number)
        {
            var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NoError, authoritative: true);
            Span<byte> address = [10, 0, 0, (byte)number];
            for (var i = 0; i < count; i++) builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, ClusterDns.Server.Wire.DnsType.A, 60, address);
            var length = builder.Finish();
            writer.Write(request, request.ResponseBuffer[..length]);
        }
    }
}
