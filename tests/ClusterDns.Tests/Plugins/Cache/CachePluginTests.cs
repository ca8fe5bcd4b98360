using System.Buffers.Binary;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins;
using ClusterDns.Server.Plugins.Cache;
using ClusterDns.Server.Wire;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClusterDns.Tests.Plugins.Cache;

public sealed class CachePluginTests
{
    /// <summary>Stands in for the kubernetes plugin: live data under cluster.local. with a version.</summary>
    private sealed class LiveDataPlugin : DnsPlugin, IZoneDataVersion
    {
        private long _version = 1;
        public byte LastOctet = 1;
        public int Queries;
        public override string Name => "kubernetes";
        public IReadOnlyList<string> Zones { get; } = ["cluster.local."];
        public long Version => Interlocked.Read(ref _version);
        public void Change(byte lastOctet)
        {
            LastOctet = lastOctet;
            Interlocked.Increment(ref _version);
        }

        public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
        {
            Interlocked.Increment(ref Queries);
            if (request.QName.StartsWith("\u0007refused"u8)) return new ValueTask<int>(Server.Wire.DnsRcode.Refused);
            var builder = new DnsMessageBuilder(request.ResponseBuffer, request, Server.Wire.DnsRcode.NoError, authoritative: true);
            builder.AppendRecord(DnsMessageBuilder.QuestionNamePointer, Server.Wire.DnsType.A, 30, [10, 0, 0, LastOctet]);
            var length = builder.Finish();
            writer.Write(request, request.ResponseBuffer[..length]);
            return new ValueTask<int>(Server.Wire.DnsRcode.NoError);
        }
    }

    private static (PluginCatalog Catalog, LiveDataPlugin Live) CatalogWithLiveData()
    {
        var live = new LiveDataPlugin();
        var catalog = BuiltInPlugins.CreateCatalog().Add(new PluginDefinition("kubernetes", (_, _) => live));
        return (catalog, live);
    }

    private static string Address(Message response) => response.Answers.OfType<ARecord>().Single().Address.ToString();

    [Fact]
    public async Task Serves_repeated_queries_from_the_cache_with_the_clients_case()
    {
        var (catalog, live) = CatalogWithLiveData();
        await using var server = await TestDnsServer.StartAsync("cluster.local {\n    cache 30\n    kubernetes\n}\n", catalog);

        var first = await server.QueryAsync("svc.cluster.local");
        var second = await server.QueryAsync("SVC.Cluster.Local");

        Assert.Equal(1, live.Queries);
        Assert.Equal("10.0.0.1", Address(second));
        Assert.Equal("SVC.Cluster.Local", second.Questions[0].Name.ToString());
        Assert.Equal("SVC.Cluster.Local", second.Answers[0].Name.ToString());
        Assert.Equal(first.Answers[0].TTL, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_change_of_the_zone_data_version_makes_the_entry_a_miss()
    {
        var (catalog, live) = CatalogWithLiveData();
        await using var server = await TestDnsServer.StartAsync("cluster.local {\n    cache 30\n    kubernetes\n}\n", catalog);

        Assert.Equal("10.0.0.1", Address(await server.QueryAsync("svc.cluster.local")));
        live.LastOctet = 2; // data changed without a version bump: the cache may still serve its entry
        Assert.Equal("10.0.0.1", Address(await server.QueryAsync("svc.cluster.local")));
        live.Change(3);

        Assert.Equal("10.0.0.3", Address(await server.QueryAsync("svc.cluster.local")));
        Assert.Equal(2, live.Queries);
    }

    [Fact]
    public async Task Refused_answers_are_not_cached()
    {
        var (catalog, live) = CatalogWithLiveData();
        await using var server = await TestDnsServer.StartAsync("cluster.local {\n    cache 30\n    kubernetes\n}\n", catalog);

        Assert.Equal(MessageStatus.Refused, (await server.QueryAsync("refused.cluster.local")).Status);
        Assert.Equal(MessageStatus.Refused, (await server.QueryAsync("refused.cluster.local")).Status);

        Assert.Equal(2, live.Queries);
    }

    [Fact]
    public async Task Disable_success_keeps_positive_answers_out()
    {
        var (catalog, live) = CatalogWithLiveData();
        await using var server = await TestDnsServer.StartAsync("cluster.local {\n    cache 30 {\n        disable success\n    }\n    kubernetes\n}\n", catalog);

        await server.QueryAsync("svc.cluster.local");
        await server.QueryAsync("svc.cluster.local");

        Assert.Equal(2, live.Queries);
    }

    [Fact]
    public void A_cache_hit_allocates_nothing()
    {
        var options = new CacheOptions { Zones = ["."] };
        var cache = new CachePlugin(options, ["dns://:53"], TimeProvider.System, NullLogger.Instance) { Next = new LiveDataPlugin() };
        var zone = new ServerZone(".", "dns://:53", cache, new ServerBlockOptions());
        using var request = new DnsRequestContext();
        var query = DnsTestClient.BuildQuery("www.example.org", Makaretu.Dns.DnsType.A, 1232);
        var writer = new CountingWriter();

        void Run()
        {
            query.CopyTo(request.QueryBuffer, 0);
            request.Reset(query.Length, DnsTransport.Udp, null, 53, CancellationToken.None);
            // No assertions in here: xunit's own comparisons allocate.
            if (request.Parse() != DnsRequestContext.ParseResult.Ok) throw new InvalidOperationException("query did not parse");
            request.Zone = zone;
            var pending = cache.ServeDnsAsync(request, writer);
            if (!pending.IsCompletedSuccessfully) throw new InvalidOperationException("a hit must complete synchronously");
        }

        Run(); // the miss stores
        Run(); // warm the hit path
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) Run();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(102, writer.Count);
        Assert.Equal(30u, writer.LastTtl);
    }

    private sealed class CountingWriter : IDnsResponseWriter
    {
        public int Count;
        public uint LastTtl;
        public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
        {
            Count++;
            var answer = DnsName.Skip(response, 12) + 4;
            LastTtl = BinaryPrimitives.ReadUInt32BigEndian(response[(answer + 6)..]);
        }
    }

    private static CacheOptions Parse(string text) =>
        CacheOptions.Parse(CorefileParser.Parse(text, "Corefile").ServerBlocks[0].Directives[0], ["example.org."]);

    [Fact]
    public void Parses_the_options()
    {
        var options = Parse("""
            example.org {
                cache 120 sub.example.org {
                    success 5000 600 10
                    denial 2048 60
                    prefetch 5 2m 20%
                    serve_stale 30m verify
                    servfail 2s
                    disable denial other.example.org
                    keepttl
                }
            }
            """);

        Assert.Equal(["sub.example.org."], options.Zones);
        Assert.Equal(4864, options.SuccessCapacity); // a multiple of 256, as CoreDNS's shards
        Assert.Equal(TimeSpan.FromSeconds(600), options.SuccessMaxTtl);
        Assert.Equal(TimeSpan.FromSeconds(10), options.SuccessMinTtl);
        Assert.Equal(2048, options.DenialCapacity);
        Assert.Equal(TimeSpan.FromSeconds(60), options.DenialMaxTtl);
        Assert.Equal(5, options.PrefetchAmount);
        Assert.Equal(TimeSpan.FromMinutes(2), options.PrefetchWindow);
        Assert.Equal(20, options.PrefetchPercentage);
        Assert.Equal(TimeSpan.FromMinutes(30), options.ServeStale);
        Assert.Equal(StaleRefreshMode.Verify, options.StaleMode);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ServFailTtl);
        Assert.Equal(["other.example.org."], options.DisableDenialZones);
        Assert.True(options.KeepTtl);
    }

    [Fact]
    public void Defaults_are_coredns_defaults()
    {
        var options = Parse("example.org {\n    cache\n}\n");

        Assert.Equal(["example.org."], options.Zones);
        Assert.Equal(9984, options.SuccessCapacity);
        Assert.Equal(TimeSpan.FromSeconds(3600), options.SuccessMaxTtl);
        Assert.Equal(TimeSpan.FromSeconds(1800), options.DenialMaxTtl);
        Assert.Equal(TimeSpan.FromSeconds(5), options.SuccessMinTtl);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ServFailTtl);
        Assert.Equal(TimeSpan.Zero, options.ServeStale);
    }

    [Theory]
    [InlineData("cache 0", 2, "zero")]
    [InlineData("cache {\n        prefetch 1 1m 95%\n    }", 3, "95%")]
    [InlineData("cache {\n        serve_stale 1h sometimes\n    }", 3, "sometimes")]
    [InlineData("cache {\n        servfail 10m\n    }", 3, "10m")]
    [InlineData("cache {\n        disable everything\n    }", 3, "everything")]
    [InlineData("cache {\n        success lots\n    }", 3, "lots")]
    [InlineData("cache {\n        frobnicate\n    }", 3, "frobnicate")]
    public async Task Bad_configuration_fails_with_file_and_line(string directive, int line, string mention)
    {
        var error = await TestDnsServer.StartExpectingErrorAsync($". {{\n    {directive}\n}}\n");

        Assert.Equal(line, error.Line);
        Assert.Contains(mention, error.Message);
    }
}
