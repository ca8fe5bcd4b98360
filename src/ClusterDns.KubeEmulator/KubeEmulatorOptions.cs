namespace ClusterDns.KubeEmulator;

/// <summary>How the emulator listens and how much watch history it keeps.</summary>
public sealed record KubeEmulatorOptions
{
    /// <summary>TCP port to listen on; 0 picks a free port (kept across <see cref="KubeApiEmulator.RestartAsync"/>).</summary>
    public int Port { get; init; }

    /// <summary>Address to bind; loopback by default.</summary>
    public string Address { get; init; } = "127.0.0.1";

    /// <summary>Watch events kept for resuming from a resourceVersion; a resourceVersion older than this history gets 410 Expired.</summary>
    public int HistoryLimit { get; init; } = 10000;

    /// <summary>How often a watch that asked for allowWatchBookmarks=true receives a BOOKMARK.</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Serve HTTPS with this certificate (it must hold its private key), as kube-apiserver does; null serves plain HTTP.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ServerCertificate { get; init; }

    /// <summary>
    /// With HTTPS, refuse the handshake of a client that presents no certificate or one other than this (by its raw
    /// bytes), standing in for kube-apiserver's --client-ca-file with client certificates as the only authentication.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? RequiredClientCertificate { get; init; }
}
