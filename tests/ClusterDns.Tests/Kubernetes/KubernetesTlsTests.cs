using System.Net;
using ClusterDns.KubeEmulator;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Tests.Kubernetes;

/// <summary>
/// <c>endpoint https://...</c> with <c>tls CERT KEY CACERT</c>: the API server's certificate is checked against the
/// named CA, so a server with another certificate is never trusted (the plugin stays unsynced, names SERVFAIL).
/// </summary>
public sealed class KubernetesTlsTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("clusterdns-k8s-tls-");

    private static string Corefile(Uri endpoint, string certificate, string key, string authority) =>
        $"cluster.local {{\n    kubernetes cluster.local {{\n        endpoint {endpoint}\n        tls {certificate} {key} {authority}\n        startup_timeout 1s\n    }}\n}}\n";

    [Fact]
    public async Task The_api_servers_certificate_is_verified_against_the_named_ca()
    {
        using var serverCertificate = TestCertificates.SelfSigned("kube-apiserver", address: IPAddress.Loopback);
        using var stranger = TestCertificates.SelfSigned("someone-else", address: IPAddress.Loopback);
        await using var emulator = await KubeApiEmulator.StartAsync(new KubeEmulatorOptions { ServerCertificate = serverCertificate });
        ClusterFixtures.AddDemoCluster(emulator.Store);
        Assert.Equal("https", emulator.BaseAddress.Scheme);
        var (certificate, key) = TestCertificates.WritePem(serverCertificate, _directory.FullName, "server");
        var (strangerCertificate, _) = TestCertificates.WritePem(stranger, _directory.FullName, "stranger");

        await AssertAnswersAsync(Corefile(emulator.BaseAddress, certificate, key, certificate));
        await using var distrusting = await StartRefusedAsync(Corefile(emulator.BaseAddress, certificate, key, strangerCertificate));
        Assert.False(distrusting.Services.ReadinessReporters.Single(reporter => reporter.Name == "kubernetes").IsReady);
    }

    [Fact]
    public async Task The_named_client_certificate_is_presented_to_an_api_server_that_requires_one()
    {
        using var serverCertificate = TestCertificates.SelfSigned("kube-apiserver", address: IPAddress.Loopback);
        using var clientCertificate = TestCertificates.SelfSigned("system:coredns");
        using var stranger = TestCertificates.SelfSigned("someone-else");
        await using var emulator = await KubeApiEmulator.StartAsync(
            new KubeEmulatorOptions { ServerCertificate = serverCertificate, RequiredClientCertificate = clientCertificate });
        ClusterFixtures.AddDemoCluster(emulator.Store);
        var (authority, _) = TestCertificates.WritePem(serverCertificate, _directory.FullName, "server");
        var (certificate, key) = TestCertificates.WritePem(clientCertificate, _directory.FullName, "client");
        var (strangerCertificate, strangerKey) = TestCertificates.WritePem(stranger, _directory.FullName, "stranger");

        await AssertAnswersAsync(Corefile(emulator.BaseAddress, certificate, key, authority));
        await using var unknown = await StartRefusedAsync(Corefile(emulator.BaseAddress, strangerCertificate, strangerKey, authority));
    }

    /// <summary>The server syncs through TLS: the demo Service answers its ClusterIP.</summary>
    private static async Task AssertAnswersAsync(string corefile)
    {
        await using var server = await TestDnsServer.StartAsync(corefile);
        var answer = await QueryUntilAsync(server, response => response.Status == MessageStatus.NoError);
        Assert.Equal(MessageStatus.NoError, answer.Status);
        Assert.Equal("10.96.100.10", Assert.IsType<ARecord>(Assert.Single(answer.Answers)).Address.ToString());
    }

    /// <summary>The handshake is refused: the log says so (what an operator reads; until then there is nothing to assert) and the name gets SERVFAIL.</summary>
    private static async Task<TestDnsServer> StartRefusedAsync(string corefile)
    {
        var logs = new CapturingLoggerProvider();
        var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs));
        var server = await TestDnsServer.StartAsync(corefile, loggerFactory: loggerFactory);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!logs.Messages.Any(IsApiFailure) && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Contains(logs.Messages, IsApiFailure);
        Assert.Equal(MessageStatus.ServerFailure, (await server.QueryAsync("nginx-service.default.svc.cluster.local")).Status);
        return server;
    }

    private static bool IsApiFailure(string message) => message.Contains("Kubernetes API call failed", StringComparison.Ordinal);

    private static async Task<Message> QueryUntilAsync(TestDnsServer server, Func<Message, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var response = await server.QueryAsync("nginx-service.default.svc.cluster.local");
            if (condition(response) || DateTime.UtcNow > deadline) return response;
            await Task.Delay(50);
        }
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
