using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Kubernetes.Informers;

/// <summary>Where a reflector delivers what it learns; called from the reflector's own task, in order.</summary>
public interface IReflectorSink<TRecord> where TRecord : class
{
    /// <summary>A complete list: replaces everything known of this resource (first sync and every relist).</summary>
    void Replace(string resource, Dictionary<string, TRecord> records);
    void Upsert(string resource, string key, TRecord record);
    void Delete(string resource, string key);
}

/// <summary>The calls a reflector makes for one resource: a page of the list, and a watch from a resourceVersion.</summary>
public sealed record ResourceApi<TObject, TList>(
    string Resource,
    Func<string? /*continue*/, int /*limit*/, CancellationToken, Task<TList>> List,
    Func<string /*resourceVersion*/, int /*timeoutSeconds*/, CancellationToken, Task<HttpOperationResponse<TList>>> Watch)
    where TObject : IKubernetesObject<V1ObjectMeta>
    where TList : IItems<TObject>, IMetadata<V1ListMeta>;

/// <summary>
/// client-go's reflector, for one resource: list in pages, then watch from the list's resourceVersion with bookmarks;
/// resume a broken watch from the last resourceVersion seen, relist only on 410 Expired, back off exponentially on
/// errors. Objects become compact records as each page arrives, so a relist never holds a second full object list,
/// and the last known state is kept (the sink is only ever replaced by a complete new list).
/// </summary>
public sealed class Reflector<TObject, TList, TRecord>
    where TObject : IKubernetesObject<V1ObjectMeta>
    where TList : IItems<TObject>, IMetadata<V1ListMeta>
    where TRecord : class
{
    public const int PageSize = 500;
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly ResourceApi<TObject, TList> _api;
    private readonly Func<TObject, TRecord?> _convert;
    private readonly IReflectorSink<TRecord> _sink;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Random _random;
    /// <summary>Where the next watch starts; null means list first.</summary>
    private string? _resourceVersion;

    public Reflector(ResourceApi<TObject, TList> api, Func<TObject, TRecord?> convert, IReflectorSink<TRecord> sink, TimeProvider time, Random random, ILogger logger)
    {
        _api = api;
        _convert = convert;
        _sink = sink;
        _time = time;
        _random = random;
        _logger = logger;
    }

    public string Resource => _api.Resource;

    private static string KeyOf(TObject item) =>
        item.Metadata.NamespaceProperty is { Length: > 0 } ns ? ns + "/" + item.Metadata.Name : item.Metadata.Name;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = InitialBackoff;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (_resourceVersion is null)
                {
                    _resourceVersion = await ListAsync(cancellationToken).ConfigureAwait(false);
                    backoff = InitialBackoff;
                }
                var watchStarted = _time.GetTimestamp();
                var events = await WatchAsync(cancellationToken).ConfigureAwait(false);
                if (_resourceVersion is null)
                {
                    KubernetesMetrics.Relists.WithLabels(Resource).Inc();
                    continue;
                }
                // The watch ended normally (server timeout): resume at once, unless it keeps ending at once.
                if (events > 0 || _time.GetElapsedTime(watchStarted) > TimeSpan.FromSeconds(1))
                {
                    backoff = InitialBackoff;
                    continue;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception) when (IsExpired(exception))
            {
                KubernetesLog.ResourceVersionExpired(_logger, Resource);
                KubernetesMetrics.Relists.WithLabels(Resource).Inc();
                _resourceVersion = null;
                continue;
            }
            catch (Exception exception)
            {
                KubernetesMetrics.ApiErrors.WithLabels(Resource).Inc();
                KubernetesLog.ApiError(_logger, Resource, backoff.TotalMilliseconds, exception.GetBaseException().Message);
            }
            try
            {
                var jitter = TimeSpan.FromMilliseconds(backoff.TotalMilliseconds * 0.2 * _random.NextDouble());
                await Task.Delay(backoff + jitter, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>Lists every page, converting as it goes; hands the complete new set to the sink; returns its resourceVersion.</summary>
    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var records = new Dictionary<string, TRecord>(StringComparer.Ordinal);
        string? continueToken = null;
        string? resourceVersion;
        do
        {
            var page = await _api.List(continueToken, PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items)
            {
                if (_convert(item) is { } record) records[KeyOf(item)] = record;
            }
            continueToken = page.Metadata?.ContinueProperty;
            resourceVersion = page.Metadata?.ResourceVersion;
        }
        while (!string.IsNullOrEmpty(continueToken));
        _sink.Replace(Resource, records);
        KubernetesMetrics.Lists.WithLabels(Resource).Inc();
        KubernetesLog.Listed(_logger, Resource, records.Count, resourceVersion ?? "", _time.GetElapsedTime(started).TotalMilliseconds);
        return resourceVersion ?? "0";
    }

    /// <summary>Watches until the stream ends, advancing the resourceVersion (set to null when a relist is due); returns the events seen.</summary>
    private async Task<int> WatchAsync(CancellationToken cancellationToken)
    {
        var resourceVersion = _resourceVersion!;
        var events = 0;
        // The server ends the watch after timeoutSeconds (jittered like client-go's 5-10 minutes); we then resume.
        var timeout = 300 + _random.Next(300);
        Exception? streamError = null;
        var response = _api.Watch(resourceVersion, timeout, cancellationToken);
        // The ListXxxWithHttpMessagesAsync(watch: true) + WatchAsync pair is marked obsolete in favour of the ClientSets
        // wrappers, which hide the HTTP response and so the 410 status we relist on; it is still the supported stream reader.
#pragma warning disable CS0618
        var stream = response.WatchAsync<TObject, TList>(error => streamError ??= error, cancellationToken);
#pragma warning restore CS0618
        await foreach (var (type, item) in stream.ConfigureAwait(false))
        {
            switch (type)
            {
                case WatchEventType.Added:
                case WatchEventType.Modified:
                    if (_convert(item) is { } record) _sink.Upsert(Resource, KeyOf(item), record);
                    else _sink.Delete(Resource, KeyOf(item));
                    KubernetesMetrics.WatchEvents.WithLabels(Resource, type == WatchEventType.Added ? "added" : "modified").Inc();
                    break;
                case WatchEventType.Deleted:
                    _sink.Delete(Resource, KeyOf(item));
                    KubernetesMetrics.WatchEvents.WithLabels(Resource, "deleted").Inc();
                    break;
                case WatchEventType.Bookmark:
                    break;
                case WatchEventType.Error:
                    // An ERROR event is a Status; kube-apiserver sends 410 Expired this way when the resourceVersion is too old.
                    KubernetesLog.ResourceVersionExpired(_logger, Resource);
                    _resourceVersion = null;
                    return events;
            }
            events++;
            if (item?.Metadata?.ResourceVersion is { Length: > 0 } version) _resourceVersion = version;
        }
        if (streamError is not null)
        {
            if (IsExpired(streamError))
            {
                _resourceVersion = null;
                return events;
            }
            throw new HttpRequestException("watch stream failed: " + streamError.Message, streamError);
        }
        return events;
    }

    private static bool IsExpired(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is HttpOperationException { Response.StatusCode: HttpStatusCode.Gone }) return true;
            if (e is k8s.Autorest.HttpOperationException http && http.Body is V1Status { Code: 410 }) return true;
            if (e is KubernetesException { Status.Code: 410 }) return true;
        }
        return false;
    }
}
