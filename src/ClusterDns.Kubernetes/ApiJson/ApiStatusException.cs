using System.Text.Json;

namespace ClusterDns.Kubernetes.ApiJson;

/// <summary>A failed API call or a watch ERROR event: the Status code (the HTTP code for a failed call) and its message.</summary>
internal sealed class ApiStatusException(int code, string message) : Exception(message)
{
    public int Code { get; } = code;

    /// <summary>410 Gone: the resourceVersion (or continue token) is older than the server's history, so only a relist helps.</summary>
    public bool IsExpired => Code == 410;

    /// <summary>The error of a non-2xx answer, with the message of the Status body when it has one.</summary>
    public static ApiStatusException From(int httpCode, ReadOnlySpan<byte> body)
    {
        string? message = null;
        try
        {
            var reader = new Utf8JsonReader(body);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject) message = ApiEvents.ReadStatus(ref reader).Message;
        }
        catch (JsonException)
        {
            // Not a Status (a proxy's HTML page, say): the HTTP code alone says what happened.
        }
        return new ApiStatusException(httpCode, $"the API server answered HTTP {httpCode}" + (string.IsNullOrEmpty(message) ? "" : ": " + message));
    }
}
