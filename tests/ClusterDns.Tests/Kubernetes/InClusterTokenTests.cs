namespace ClusterDns.Tests.Kubernetes;

/// <summary>
/// In-cluster, KubernetesClientConfiguration.InClusterConfig() authenticates with k8s.Authentication.TokenFileAuth
/// over the service account token file. Bound service account tokens rotate (the kubelet rewrites the file), so the
/// provider must read the file again rather than keep the first token: this checks the client version we ship does.
/// </summary>
public sealed class InClusterTokenTests
{
    [Fact]
    public async Task The_token_file_is_read_again_once_the_cached_token_expires()
    {
        var path = Path.Combine(Path.GetTempPath(), "clusterdns-token-" + Guid.NewGuid().ToString("N"));
        try
        {
            await File.WriteAllTextAsync(path, "first-token\n");
            var auth = new k8s.Authentication.TokenFileAuth(path);

            var first = await auth.GetAuthenticationHeaderAsync(CancellationToken.None);
            Assert.Equal("Bearer", first.Scheme);
            Assert.Equal("first-token", first.Parameter);
            // TokenExpiresAt is internal: read and move it through reflection rather than wait for the minute.
            var expiry = typeof(k8s.Authentication.TokenFileAuth).GetProperty("TokenExpiresAt",
                System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)!;
            Assert.True((DateTime)expiry.GetValue(auth)! <= DateTime.UtcNow.AddMinutes(1).AddSeconds(5), "the token is cached for about a minute at most");

            await File.WriteAllTextAsync(path, "rotated-token\n");
            expiry.SetValue(auth, DateTime.UtcNow.AddSeconds(-1)); // as if that minute had passed

            var second = await auth.GetAuthenticationHeaderAsync(CancellationToken.None);
            Assert.Equal("rotated-token", second.Parameter);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
