using Microsoft.Extensions.Logging;

namespace ClusterDns.Kubernetes;

internal static partial class KubernetesLog
{
    public const string Category = "plugin/kubernetes";

    [LoggerMessage(EventId = 3001, EventName = "Listed", Level = LogLevel.Debug, Message = "listed {Resource}: {Count} objects at resourceVersion {ResourceVersion} in {Milliseconds:F0} ms")]
    public static partial void Listed(ILogger logger, string resource, int count, string resourceVersion, double milliseconds);

    [LoggerMessage(EventId = 3002, EventName = "ResourceVersionExpired", Level = LogLevel.Information, Message = "watch of {Resource} expired (410): relisting, current answers kept")]
    public static partial void ResourceVersionExpired(ILogger logger, string resource);

    [LoggerMessage(EventId = 3003, EventName = "ApiError", Level = LogLevel.Warning, Message = "{Resource}: Kubernetes API call failed, retrying in {BackoffMs:F0} ms (last known state keeps answering): {Error}")]
    public static partial void ApiError(ILogger logger, string resource, double backoffMs, string error);

    [LoggerMessage(EventId = 3004, EventName = "WaitingForApi", Level = LogLevel.Information, Message = "waiting for Kubernetes API before starting server")]
    public static partial void WaitingForApi(ILogger logger);

    [LoggerMessage(EventId = 3005, EventName = "StartingUnsynced", Level = LogLevel.Warning, Message = "starting server with unsynced Kubernetes API")]
    public static partial void StartingUnsynced(ILogger logger);

    [LoggerMessage(EventId = 3006, EventName = "Synced", Level = LogLevel.Information, Message = "Kubernetes API synced: {Names} names from {Services} services in {Milliseconds:F0} ms")]
    public static partial void Synced(ILogger logger, int names, int services, double milliseconds);

    [LoggerMessage(EventId = 3007, EventName = "BadObject", Level = LogLevel.Warning, Message = "skipping {Key}: {Error}")]
    public static partial void BadObject(ILogger logger, string key, string error);

    [LoggerMessage(EventId = 3009, EventName = "ApplyFailed", Level = LogLevel.Error, Message = "applying a cluster change failed; the answers published so far keep serving")]
    public static partial void ApplyFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3008, EventName = "Connecting", Level = LogLevel.Information, Message = "connecting to the Kubernetes API at {Host}")]
    public static partial void Connecting(ILogger logger, string host);
}
