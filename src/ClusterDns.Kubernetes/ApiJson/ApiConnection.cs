using System.Net;

namespace ClusterDns.Kubernetes.ApiJson;

/// <summary>
/// GET requests to the API server through KubernetesClient's own HttpClient and credentials, so kubeconfig, TLS and the
/// rotating in-cluster token behave exactly as the client's generated calls; the body is left to our readers instead of
/// being deserialized into full model objects.
/// </summary>
internal sealed class ApiConnection(k8s.Kubernetes client)
{
    /// <summary>Sends the request and returns the response once its headers are in; a non-2xx answer throws <see cref="ApiStatusException"/>.</summary>
    public async Task<HttpResponseMessage> GetAsync(string relativeUri, CancellationToken cancellationToken)
    {
        // HTTP/2 where TLS negotiates it, as the generated calls ask.
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(client.BaseUri, relativeUri)) { Version = HttpVersion.Version20 };
        request.Headers.TryAddWithoutValidation("Accept", "application/json");
        if (client.Credentials is { } credentials) await credentials.ProcessHttpRequestAsync(request, cancellationToken).ConfigureAwait(false);
        var response = await client.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            throw ApiStatusException.From((int)response.StatusCode, body);
        }
    }
}
