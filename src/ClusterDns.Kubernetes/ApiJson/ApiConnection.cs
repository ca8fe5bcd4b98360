using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using k8s;
using k8s.Authentication;

namespace ClusterDns.Kubernetes.ApiJson;

/// <summary>
/// GET requests to the API server over one HTTP handler set up as KubernetesClient sets up its own (keep-alive pings,
/// the configuration's CA checked by the client's own validation callback, client certificate, the client's own
/// credentials, so kubeconfig and the rotating in-cluster token behave the same), without the generated
/// <see cref="k8s.Kubernetes"/> client: building that object loads its thousand API operations and costs about
/// 10 MB of resident memory for calls we never make. The body is left to our readers.
/// </summary>
internal sealed class ApiConnection : IDisposable
{
    private static readonly ProductInfoHeaderValue UserAgent = new("ClusterDns", typeof(ApiConnection).Assembly.GetName().Version?.ToString(3));

    private readonly Uri _baseUri;
    private readonly HttpClient _http;
    private readonly ServiceClientCredentials? _credentials;
    private readonly Version _httpVersion;

    public ApiConnection(KubernetesClientConfiguration configuration)
    {
        _baseUri = new Uri(configuration.Host);
        var handler = new SocketsHttpHandler
        {
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            KeepAlivePingDelay = TimeSpan.FromMinutes(3),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            EnableMultipleHttp2Connections = true,
        };
        if (_baseUri.Scheme == Uri.UriSchemeHttps)
        {
            if (configuration.SkipTlsVerify)
            {
                handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
            }
            else if (configuration.SslCaCerts is { } authorities)
            {
                handler.SslOptions.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
                    certificate is not null && chain is not null && k8s.Kubernetes.CertificateValidationCallBack(sender, authorities, certificate, chain, errors);
            }
        }
        if (ClientCertificate(configuration) is { } certificate)
        {
            handler.SslOptions.ClientCertificates = [certificate];
            // The handler caches the first certificate it selects; name ours outright (KubernetesClient does the same).
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }
        configuration.FirstMessageHandlerSetup?.Invoke(handler);
        _credentials = k8s.Kubernetes.CreateCredentials(configuration);
        _httpVersion = configuration.DisableHttp2 ? HttpVersion.Version11 : HttpVersion.Version20;
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Sends the request and returns the response once its headers are in; a non-2xx answer throws <see cref="ApiStatusException"/>.</summary>
    public async Task<HttpResponseMessage> GetAsync(string relativeUri, CancellationToken cancellationToken)
    {
        // HTTP/2 where TLS negotiates it, as the client's generated calls ask.
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_baseUri, relativeUri)) { Version = _httpVersion };
        request.Headers.TryAddWithoutValidation("Accept", "application/json");
        request.Headers.UserAgent.Add(UserAgent);
        if (_credentials is { } credentials) await credentials.ProcessHttpRequestAsync(request, cancellationToken).ConfigureAwait(false);
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            throw ApiStatusException.From((int)response.StatusCode, body);
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>The kubeconfig's client certificate and key (inline base64 PEM or files), or null when it names none.</summary>
    private static X509Certificate2? ClientCertificate(KubernetesClientConfiguration configuration)
    {
        var certificate = Pem(configuration.ClientCertificateData, configuration.ClientCertificateFilePath);
        var key = Pem(configuration.ClientCertificateKeyData, configuration.ClientKeyFilePath);
        if (certificate is null || key is null) return null;
        return X509Certificate2.CreateFromPem(certificate, key);
    }

    private static string? Pem(string? base64, string? path) =>
        !string.IsNullOrWhiteSpace(path) ? File.ReadAllText(path)
        : !string.IsNullOrWhiteSpace(base64) ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(base64))
        : null;
}
