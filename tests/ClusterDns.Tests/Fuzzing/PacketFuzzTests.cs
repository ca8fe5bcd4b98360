using System.Diagnostics;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Pipeline;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace ClusterDns.Tests.Fuzzing;

/// <summary>
/// A mutational fuzzer over the packet path with a fixed seed and budget: real queries (several types, EDNS, odd
/// names) mutated by bit flips, byte overwrites, truncation, extension, splicing and header-count changes, fed
/// through the same processor and plugin pipeline the listeners use. Nothing may throw, every reply must carry the
/// query's ID, be a response, fit the UDP limit, and the next good query must still be answered.
/// </summary>
public sealed class PacketFuzzTests(ITestOutputHelper output)
{
    private const int Packets = 1_000_000;

    private const string Corefile = """
        . {
            any
            loadbalance
            cache 30
            hosts {
                10.0.0.1 www.example.org
                10.0.0.2 www.example.org
                fd00::1 www.example.org
                fallthrough
            }
            whoami
        }
        example.com {
            errors
            hosts {
                192.0.2.1 a.example.com
            }
        }
        """;

    [Fact]
    public async Task A_million_mutated_queries_never_throw_and_every_reply_is_well_formed()
    {
        var services = new ServerServices(NullLoggerFactory.Instance, random: new Random(1));
        var configuration = ServerConfiguration.Build(CorefileParser.Parse(Corefile, "Corefile"), PluginRegistration.CreateCatalog(), services, defaultPort: 0);
        await configuration.StartAsync(CancellationToken.None);
        try
        {
            var router = Assert.Single(configuration.Routers).Value;
            var processor = new DnsQueryProcessor(NullLogger.Instance);
            var writer = new CheckingWriter();
            var seeds = Seeds();
            var random = new Random(20261125);
            using var request = new DnsRequestContext();
            var stopwatch = Stopwatch.StartNew();
            var answered = 0;
            for (var i = 0; i < Packets; i++)
            {
                var length = Mutate(seeds[random.Next(seeds.Length)], request.QueryBuffer, random);
                request.Reset(length, DnsTransport.Udp, null, 53, CancellationToken.None);
                writer.Expect(request);
                var pending = processor.ProcessAsync(request, router, writer);
                Assert.True(pending.IsCompletedSuccessfully, "this pipeline answers synchronously");
                if (request.ResponseWritten) answered++;
            }
            output.WriteLine($"{Packets} packets in {stopwatch.Elapsed.TotalSeconds:F1} s, {answered} answered, {Packets - answered} dropped; violations: {writer.Violations}");
            foreach (var sample in writer.Samples) output.WriteLine(sample);
            Assert.Equal(0, writer.Violations);
            Assert.True(answered > Packets / 2, "most mutants still carry a header worth answering");

            var good = DnsTestClient.BuildQuery("www.example.org", DnsType.A);
            good.CopyTo(request.QueryBuffer, 0);
            request.Reset(good.Length, DnsTransport.Udp, null, 53, CancellationToken.None);
            writer.Expect(request);
            await processor.ProcessAsync(request, router, writer);
            var response = DnsTestClient.Parse(writer.Last);
            Assert.Equal(MessageStatus.NoError, response.Status);
            Assert.Equal(2, response.Answers.Count);
        }
        finally
        {
            await configuration.StopAsync();
        }
    }

    private static byte[][] Seeds() =>
    [
        DnsTestClient.BuildQuery("www.example.org", DnsType.A),
        DnsTestClient.BuildQuery("WWW.Example.ORG", DnsType.AAAA, udpSize: 4096),
        DnsTestClient.BuildQuery("a.example.com", DnsType.A, udpSize: 1232, dnssecOk: true),
        DnsTestClient.BuildQuery("nothing.example.com", DnsType.MX),
        DnsTestClient.BuildQuery("1.0.0.10.in-addr.arpa", DnsType.PTR),
        DnsTestClient.BuildQuery("x.example.net", DnsType.ANY, udpSize: 512),
        DnsTestClient.BuildQuery(new string('a', 63) + "." + new string('b', 63) + ".example.org", DnsType.TXT),
    ];

    /// <summary>One mutant of <paramref name="seed"/> into <paramref name="buffer"/>; returns its length.</summary>
    private static int Mutate(byte[] seed, byte[] buffer, Random random)
    {
        var length = seed.Length;
        seed.CopyTo(buffer, 0);
        var mutations = random.Next(1, 5);
        for (var m = 0; m < mutations; m++)
        {
            switch (random.Next(7))
            {
                case 0: // flip one bit
                    buffer[random.Next(length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1: // overwrite a byte with an interesting value
                    buffer[random.Next(length)] = (byte)(random.Next(4) switch { 0 => 0x00, 1 => 0xFF, 2 => 0xC0, _ => 0x3F });
                    break;
                case 2: // truncate
                    length = random.Next(length + 1);
                    break;
                case 3: // extend with random bytes
                    var extra = random.Next(1, 64);
                    random.NextBytes(buffer.AsSpan(length, extra));
                    length += extra;
                    break;
                case 4: // change a section count
                    if (length >= 12) buffer[4 + 2 * random.Next(4) + 1] = (byte)random.Next(256);
                    break;
                case 5: // a compression pointer somewhere
                    if (length >= 14)
                    {
                        var at = 12 + random.Next(length - 13);
                        buffer[at] = (byte)(0xC0 | random.Next(0x40));
                        buffer[at + 1] = (byte)random.Next(256);
                    }
                    break;
                default: // splice a run of bytes from elsewhere in the packet
                    if (length > 2)
                    {
                        var from = random.Next(length - 1);
                        var to = random.Next(length - 1);
                        var count = Math.Min(random.Next(1, 16), Math.Min(length - from, length - to));
                        buffer.AsSpan(from, count).CopyTo(buffer.AsSpan(to));
                    }
                    break;
            }
        }
        if (length >= 3) buffer[2] &= 0x7F; // keep most mutants queries, so the pipeline is reached
        return length;
    }

    /// <summary>Applies the UDP transport's finishing step and checks what a client would receive.</summary>
    private sealed class CheckingWriter : IDnsResponseWriter
    {
        private ushort _id;
        public int Violations { get; private set; }
        public List<string> Samples { get; } = [];
        public byte[] Last { get; private set; } = [];

        public void Expect(DnsRequestContext request) => _id = request.QueryLength >= 2 ? (ushort)((request.QueryBuffer[0] << 8) | request.QueryBuffer[1]) : (ushort)0;

        public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
        {
            var output = request.ResponseBuffer;
            response.CopyTo(output);
            var limit = ResponseFinalizer.UdpLimit(request);
            var length = ResponseFinalizer.Finish(request, output, response.Length, limit, Random.Shared);
            string? problem = length < 12 ? "shorter than a header"
                : length > limit ? $"{length} bytes over the limit {limit}"
                : ((output[0] << 8) | output[1]) != _id ? "wrong ID"
                : (output[2] & 0x80) == 0 ? "QR not set"
                : null;
            if (problem is null && (output[3] & 0xF) == 0 && length > 12)
            {
                try
                {
                    DnsTestClient.Parse(output[..length].ToArray()); // a NOERROR answer must parse
                }
                catch (Exception exception)
                {
                    problem = "unparseable answer: " + exception.Message;
                }
            }
            if (problem is not null)
            {
                Violations++;
                if (Samples.Count < 5) Samples.Add($"{problem}: query {Convert.ToHexString(request.Query)} reply {Convert.ToHexString(output[..length])}");
            }
            Last = output[..length].ToArray();
            request.RecordResponse(output[3] & 0xF, length);
        }
    }
}
