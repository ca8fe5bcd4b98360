using System.Net;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.EndToEnd.Tests.Upstream;

/// <summary>forward to a real unbound over DNS over TLS (tls://): answered when the certificate is trusted, refused to talk otherwise.</summary>
public sealed class ForwardTlsTests : IDisposable
{
    private const string ServerName = "dns.example.test";
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("clusterdns-tls-");

    [Fact]
    public async Task Forward_over_tls_answers_with_a_trusted_certificate_and_fails_closed_without_one()
    {
        // Self-signed: unbound's certificate, and the trust root the forward block names.
        using var serverCertificate = TestCertificates.SelfSigned(ServerName, dnsName: ServerName);
        var (certificate, key) = TestCertificates.WritePem(serverCertificate, _directory.FullName, "server");
        await using var unbound = await RealResolver.StartUnboundAsync((certificate, key), "www.example.test. 300 IN A 192.0.2.1");
        var upstream = $"tls://127.0.0.1:{unbound.TlsPort}";
        await using var trusting = await TestDnsServer.StartAsync(
            $". {{\n    forward . {upstream} {{\n        tls {certificate} {key} {certificate}\n        tls_servername {ServerName}\n    }}\n}}\n");
        await using var untrusting = await TestDnsServer.StartAsync(
            $". {{\n    forward . {upstream} {{\n        tls\n        tls_servername {ServerName}\n    }}\n}}\n");

        var answered = await trusting.QueryAsync("www.example.test");
        Assert.Equal(MessageStatus.NoError, answered.Status);
        Assert.Equal(IPAddress.Parse("192.0.2.1"), Assert.IsType<ARecord>(Assert.Single(answered.Answers)).Address);

        // The system roots do not know the self-signed certificate: no answer is taken from that connection.
        var refused = await untrusting.QueryAsync("www.example.test");
        Assert.Equal(MessageStatus.ServerFailure, refused.Status);
        Assert.Empty(refused.Answers);
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
