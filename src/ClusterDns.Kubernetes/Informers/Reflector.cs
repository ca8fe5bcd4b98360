using System.Buffers;
using ClusterDns.Kubernetes.ApiJson;
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

/// <summary>One resource's collection path (all namespaces) and the label selector its list and watch carry.</summary>
internal sealed record ResourceQuery(string Resource, string Path, string? LabelSelector)
{
    public string ListUri(string? continueToken, int limit) =>
        $"{Path}?limit={limit}" + Parameter("continue", continueToken) + Parameter("labelSelector", LabelSelector);

    public string WatchUri(string resourceVersion, int timeoutSeconds) =>
        $"{Path}?allowWatchBookmarks=true" + Parameter("labelSelector", LabelSelector) + Parameter("resourceVersion", resourceVersion)
        + $"&timeoutSeconds={timeoutSeconds}&watch=true";

    private static string Parameter(string name, string? value) =>
        string.IsNullOrEmpty(value) ? "" : "&" + name + "=" + Uri.EscapeDataString(value);
}

/// <summary>
/// client-go's reflector, for one resource: list in pages, then watch from the list's resourceVersion with bookmarks;
/// resume a broken watch from the last resourceVersion seen, relist only on 410 Expired, back off exponentially on
/// errors. Each page and each watch line is read with <see cref="System.Text.Json.Utf8JsonReader"/> from a pooled
/// buffer straight into compact records, so no API model object is ever built, and the last known state is kept (the
/// sink is only ever replaced by a complete new list).
/// </summary>
internal sealed class Reflector<TRecord> where TRecord : class
{
    public const int PageSize = 500;
    private const int MaximumPageBytes = 64 * 1024 * 1024;
    private const int ListBufferSize = 256 * 1024, WatchBufferSize = 16 * 1024, MinimumRead = 16 * 1024;
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly ApiConnection _api;
    private readonly ResourceQuery _query;
    private readonly ApiObjectReader<TRecord> _objects;
    private readonly IReflectorSink<TRecord> _sink;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Random _random;
    /// <summary>Where the next watch starts; null means list first.</summary>
    private string? _resourceVersion;

    public Reflector(ApiConnection api, ResourceQuery query, ApiObjectReader<TRecord> objects, IReflectorSink<TRecord> sink, TimeProvider time,
        Random random, ILogger logger)
    {
        _api = api;
        _query = query;
        _objects = objects;
        _sink = sink;
        _time = time;
        _random = random;
        _logger = logger;
    }

    public string Resource => _query.Resource;

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
            catch (ApiStatusException exception) when (exception.IsExpired)
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

    /// <summary>Lists every page, reading records as it goes; hands the complete new set to the sink; returns its resourceVersion.</summary>
    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var records = new Dictionary<string, TRecord>(StringComparer.Ordinal);
        string? continueToken = null;
        string? resourceVersion;
        // A pool of the list's own: the shared one would keep its page-sized arrays (hundreds of KB) after the list,
        // for the next relist, which may be hours away.
        using var body = new PooledBuffer(ListBufferSize, ArrayPool<byte>.Create(MaximumPageBytes, 1));
        do
        {
            body.Clear();
            using (var response = await _api.GetAsync(_query.ListUri(continueToken, PageSize), cancellationToken).ConfigureAwait(false))
            {
                var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    int read;
                    while ((read = await stream.ReadAsync(body.GetFreeMemory(MinimumRead), cancellationToken).ConfigureAwait(false)) > 0) body.Advance(read);
                }
            }
            (continueToken, resourceVersion) = ApiEvents.ReadPage(body.Data, _objects, records);
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
        // The server ends the watch after timeoutSeconds (jittered like client-go's 5-10 minutes); we then resume.
        var timeout = 300 + _random.Next(300);
        var events = 0;
        using var response = await _api.GetAsync(_query.WatchUri(_resourceVersion!, timeout), cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var lines = new PooledBuffer(WatchBufferSize);
            while (true)
            {
                var read = await stream.ReadAsync(lines.GetFreeMemory(MinimumRead), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    // The stream ended: a last event without its newline still counts.
                    ApplyLine(lines.TakeRest(), ref events);
                    return events;
                }
                lines.Advance(read);
                while (lines.TryTakeLine(out var line))
                {
                    if (!ApplyLine(line, ref events)) return events;
                }
            }
        }
    }

    /// <summary>Applies one watch line (blank lines are skipped); false when it was a 410 ERROR and a relist is due.</summary>
    private bool ApplyLine(ReadOnlySpan<byte> line, ref int events)
    {
        if (line.Trim(" \t\r"u8).IsEmpty) return true;
        var watchEvent = ApiEvents.ReadWatchEvent(line, _objects);
        switch (watchEvent.Kind)
        {
            case WatchEventKind.Added:
            case WatchEventKind.Modified:
                if (watchEvent.Record is { } record) _sink.Upsert(Resource, watchEvent.Key!, record);
                else _sink.Delete(Resource, watchEvent.Key!);
                KubernetesMetrics.WatchEvents.WithLabels(Resource, watchEvent.Kind == WatchEventKind.Added ? "added" : "modified").Inc();
                break;
            case WatchEventKind.Deleted:
                _sink.Delete(Resource, watchEvent.Key!);
                KubernetesMetrics.WatchEvents.WithLabels(Resource, "deleted").Inc();
                break;
            case WatchEventKind.Bookmark:
                break;
            case WatchEventKind.Error:
                // An ERROR event is a Status; kube-apiserver sends 410 Expired this way when the resourceVersion is too
                // old. Any other code is an API error: back off and watch again from the same resourceVersion.
                if (watchEvent.Status.Code != 410)
                    throw new ApiStatusException(watchEvent.Status.Code, $"watch ERROR {watchEvent.Status.Code} {watchEvent.Status.Reason}: {watchEvent.Status.Message}");
                KubernetesLog.ResourceVersionExpired(_logger, Resource);
                _resourceVersion = null;
                return false;
        }
        events++;
        if (watchEvent.ResourceVersion is { Length: > 0 } version) _resourceVersion = version;
        return true;
    }
}
