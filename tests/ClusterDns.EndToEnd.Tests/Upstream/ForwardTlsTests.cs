using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.EndToEnd.Tests.Upstream;

/// <summary>forward to a real unbound over DNS over TLS (tls://): answered when the certificate is trusted, refused to talk otherwise.</summary>
public sealed class ForwardTlsTests : IDisposable
{
    private const string ServerName = "dns.example.test";
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("clusterdns-tls-");

    /// <summary>A self-signed certificate for <see cref="ServerName"/>, written as PEM: unbound's, and the trust root the forward block names.</summary>
    private (string Certificate, string Key) WriteCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={ServerName}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(ServerName);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(_directory.FullName, "server.pem");
        var keyPath = Path.Combine(_directory.FullName, "server.key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    [Fact]
    public async Task Forward_over_tls_answers_with_a_trusted_certificate_and_fails_closed_without_one()
    {
        var (certificate, key) = WriteCertificate();
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
