using System.Buffers;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace ClusterDns.KubeEmulator;

/// <summary>
/// The emulated etcd plus watch cache: every object of every resource, one global resourceVersion counter,
/// and a bounded history of changes from which watches resume. Thread-safe; one lock orders all writes so
/// watchers see events in resourceVersion order. Objects are kept as serialized UTF-8 JSON.
/// </summary>
public sealed class ClusterStore
{
    internal static readonly JsonSerializerOptions Compact = new() { WriteIndented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly object _gate = new();
    private readonly Dictionary<ResourceType, Table> _tables = [];
    private readonly List<WatchSubscription> _watchers = [];
    private readonly WatchEvent?[] _history;
    private readonly HashSet<string> _usedClusterIps = new(StringComparer.Ordinal);
    private static readonly JsonWriterOptions WrittenOptions = new() { Encoder = Compact.Encoder };
    private readonly ArrayBufferWriter<byte> _written = new(4096);
    private readonly Random _uidSource = new();
    private int _historyHead;
    private int _historyCount;
    private long _resourceVersion;
    private long _compactedResourceVersion;
    private uint _nextClusterIp = 0x0A600001; // 10.96.0.1

    public ClusterStore(int historyLimit = 10000)
    {
        _history = new WatchEvent?[Math.Max(1, historyLimit)];
        foreach (var t in ResourceCatalog.All)
        {
            _tables[t] = new Table();
        }
    }

    /// <summary>The current global resourceVersion (the RV of the last write).</summary>
    public long ResourceVersion
    {
        get { lock (_gate) return _resourceVersion; }
    }

    /// <summary>The newest resourceVersion no longer covered by the history: watches from an older one get 410 Expired.</summary>
    public long CompactedResourceVersion
    {
        get { lock (_gate) return _compactedResourceVersion; }
    }

    /// <summary>Drops all watch history, as an etcd compaction does: the next watch (or continue token) from a
    /// resourceVersion older than the current one gets 410 Expired.</summary>
    public void CompactHistory()
    {
        lock (_gate)
        {
            Array.Clear(_history);
            _historyHead = 0;
            _historyCount = 0;
            _compactedResourceVersion = _resourceVersion;
        }
    }

    // ---- string / JSON API -------------------------------------------------------------------------------

    /// <summary>Creates an object of <paramref name="resource"/> (plural, kind or short name) from JSON; returns the stored JSON.
    /// The namespace comes from metadata.namespace (default "default").</summary>
    public string Create(string resource, string json) =>
        Encoding.UTF8.GetString(Create(ResourceCatalog.Require(resource), ParseObject(json), null).Json);

    /// <summary>Replaces an existing object; a metadata.resourceVersion in the JSON must match the stored one (else 409 Conflict).</summary>
    public string Update(string resource, string json) =>
        Encoding.UTF8.GetString(Update(ResourceCatalog.Require(resource), ParseObject(json), null, null, UpdateMode.Store).Json);

    /// <summary>Creates the object, or replaces it unconditionally if it exists.</summary>
    public string Upsert(string resource, string json) =>
        Encoding.UTF8.GetString(Upsert(ResourceCatalog.Require(resource), ParseObject(json)).Json);

    /// <summary>Deletes an object; returns false if it did not exist. Deleting a namespace deletes everything in it.</summary>
    public bool Delete(string resource, string? ns, string name)
    {
        try
        {
            Delete(ResourceCatalog.Require(resource), ns, name);
            return true;
        }
        catch (KubeApiException e) when (e.Code == 404)
        {
            return false;
        }
    }

    /// <summary>The stored JSON of one object, or null.</summary>
    public string? Get(string resource, string? ns, string name)
    {
        var o = Find(ResourceCatalog.Require(resource), ns, name);
        return o is null ? null : Encoding.UTF8.GetString(o.Json);
    }

    /// <summary>Applies a patch as the PATCH verb does; <paramref name="contentType"/> is one of the patch media types
    /// (application/merge-patch+json, application/strategic-merge-patch+json, application/json-patch+json, application/apply-patch+yaml).</summary>
    public string Patch(string resource, string? ns, string name, string contentType, string patch) =>
        Encoding.UTF8.GetString(Patch(ResourceCatalog.Require(resource), ns, name, contentType, Encoding.UTF8.GetBytes(patch), false).Json);

    /// <summary>The JSON of every object of a resource (optionally in one namespace), ordered by namespace/name.</summary>
    public IReadOnlyList<string> List(string resource, string? ns = null) =>
        Snapshot(ResourceCatalog.Require(resource), ns).Select(o => Encoding.UTF8.GetString(o.Json)).ToList();

    /// <summary>How many objects of a resource exist (optionally in one namespace).</summary>
    public int Count(string resource, string? ns = null)
    {
        var t = ResourceCatalog.Require(resource);
        lock (_gate)
        {
            var table = _tables[t];
            return ns is null ? table.Items.Count : table.Items.Values.Count(o => o.Namespace == ns);
        }
    }

    // ---- typed API (KubernetesClient models) ---------------------------------------------------------------

    /// <summary>Creates the object or replaces it if it exists (ignoring its resourceVersion); returns the stored copy.</summary>
    public T Apply<T>(T obj) where T : IKubernetesObject<V1ObjectMeta>
    {
        var node = JsonNode.Parse(KubernetesJson.Serialize(obj)) as JsonObject
            ?? throw KubeApiException.BadRequest("object did not serialize to a JSON object");
        var t = ResourceFor(typeof(T), obj.ApiVersion, obj.Kind);
        node["kind"] ??= t.Kind;
        node["apiVersion"] ??= t.ApiVersion;
        return KubernetesJson.Deserialize<T>(Encoding.UTF8.GetString(Upsert(t, node).Json));
    }

    /// <summary>Creates the object (409 AlreadyExists if it exists); returns the stored copy.</summary>
    public T Create<T>(T obj) where T : IKubernetesObject<V1ObjectMeta>
    {
        var node = (JsonObject)JsonNode.Parse(KubernetesJson.Serialize(obj))!;
        var t = ResourceFor(typeof(T), obj.ApiVersion, obj.Kind);
        return KubernetesJson.Deserialize<T>(Encoding.UTF8.GetString(Create(t, node, null).Json));
    }

    /// <summary>One object as a typed model, or null.</summary>
    public T? Get<T>(string? ns, string name) where T : IKubernetesObject<V1ObjectMeta>
    {
        var o = Find(ResourceFor(typeof(T), null, null), ns, name);
        return o is null ? default : KubernetesJson.Deserialize<T>(Encoding.UTF8.GetString(o.Json));
    }

    /// <summary>Every object of the model's resource (optionally in one namespace).</summary>
    public IReadOnlyList<T> List<T>(string? ns = null) where T : IKubernetesObject<V1ObjectMeta> =>
        Snapshot(ResourceFor(typeof(T), null, null), ns).Select(o => KubernetesJson.Deserialize<T>(Encoding.UTF8.GetString(o.Json))).ToList();

    /// <summary>Deletes an object of the model's resource; false if it did not exist.</summary>
    public bool Delete<T>(string? ns, string name) where T : IKubernetesObject<V1ObjectMeta> =>
        Delete(ResourceFor(typeof(T), null, null).Plural, ns, name);

    private static ResourceType ResourceFor(Type type, string? apiVersion, string? kind)
    {
        var attr = type.GetCustomAttribute<KubernetesEntityAttribute>();
        if (attr is not null)
        {
            return ResourceCatalog.Find(attr.Group ?? "", attr.ApiVersion, attr.PluralName)
                ?? throw KubeApiException.BadRequest($"the emulator does not serve {attr.PluralName}");
        }
        return ResourceCatalog.ForKind(apiVersion, kind);
    }

    // ---- core operations (used by the HTTP layer) ----------------------------------------------------------

    internal enum UpdateMode
    {
        /// <summary>Store API: the whole object, status included, is replaced.</summary>
        Store,
        /// <summary>PUT/PATCH on the main resource: status is kept from the stored object where a status subresource exists.</summary>
        MainResource,
        /// <summary>PUT/PATCH on /status: only status changes.</summary>
        Status,
    }

    internal StoredObject? Find(ResourceType t, string? ns, string name)
    {
        lock (_gate)
        {
            return _tables[t].Items.GetValueOrDefault(Key(t, ns, name));
        }
    }

    internal List<StoredObject> Snapshot(ResourceType t, string? ns)
    {
        lock (_gate)
        {
            var table = _tables[t];
            var result = new List<StoredObject>();
            foreach (var key in Range(table, t, ns, null))
            {
                result.Add(table.Items[key]);
            }
            return result;
        }
    }

    internal bool NamespaceExists(string ns) => Find(ResourceCatalog.Namespaces, null, ns) is not null;

    internal StoredObject Create(ResourceType t, JsonObject obj, string? pathNamespace)
    {
        var meta = Metadata(obj);
        var (ns, name) = Identify(t, obj, meta, pathNamespace, null);
        lock (_gate)
        {
            return CreateLocked(t, obj, meta, ns, name);
        }
    }

    private StoredObject CreateLocked(ResourceType t, JsonObject obj, JsonObject meta, string ns, string name)
    {
        if (name.Length == 0)
        {
            var generate = (string?)meta["generateName"] ?? "";
            do
            {
                name = generate + RandomSuffix();
            }
            while (_tables[t].Items.ContainsKey(Key(t, ns, name)));
            meta["name"] = name;
        }
        if (_tables[t].Items.ContainsKey(Key(t, ns, name)))
        {
            throw KubeApiException.AlreadyExists(t, name);
        }
        meta["uid"] = NewUid();
        meta["creationTimestamp"] = Now();
        meta.Remove("deletionTimestamp");
        if (obj["spec"] is not null) meta["generation"] = 1;
        ObjectDefaults.Apply(t, obj, null, this);
        return Commit(t, obj, ns, name, null);
    }

    /// <summary>The fields the store sets on a new object, for <see cref="CreateWritten"/>.</summary>
    internal sealed record ObjectStamp(string Uid, string CreationTimestamp, string ResourceVersion);

    /// <summary>Creates an object that <paramref name="write"/> writes in its stored form: kind, apiVersion, metadata
    /// first, defaults applied, and the stamp's uid, creationTimestamp, (generation 1 when there is a spec,) and
    /// resourceVersion after the metadata the object brings. Building the JSON tree, defaulting it and serializing
    /// it was most of the CPU of loading 100,000 synthetic pods. An object that exists already is written without a
    /// stamp and takes the ordinary write path, so a replace keeps its semantics.</summary>
    internal void CreateWritten(ResourceType t, string ns, string name, IReadOnlyDictionary<string, string>? labels, Action<Utf8JsonWriter, ObjectStamp?> write)
    {
        lock (_gate)
        {
            var table = _tables[t];
            var key = Key(t, ns, name);
            if (table.Items.ContainsKey(key))
            {
                Upsert(t, ParseObject(Encoding.UTF8.GetString(Written(write, null))));
                return;
            }
            var rv = ++_resourceVersion;
            var stamp = new ObjectStamp(NewUid(), Now(), rv.ToString(CultureInfo.InvariantCulture));
            var stored = new StoredObject(ns, name, rv, Written(write, stamp), labels);
            table.Keys.Add(key);
            table.Items[key] = stored;
            Record(new WatchEvent(rv, t, WatchEventKind.Added, stored, null));
        }
    }

    private byte[] Written(Action<Utf8JsonWriter, ObjectStamp?> write, ObjectStamp? stamp)
    {
        _written.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(_written, WrittenOptions))
        {
            write(writer, stamp);
        }
        return _written.WrittenSpan.ToArray();
    }

    internal StoredObject Update(ResourceType t, JsonObject obj, string? pathNamespace, string? pathName, UpdateMode mode)
    {
        var meta = Metadata(obj);
        var (ns, name) = Identify(t, obj, meta, pathNamespace, pathName);
        lock (_gate)
        {
            var old = _tables[t].Items.GetValueOrDefault(Key(t, ns, name)) ?? throw KubeApiException.NotFound(t, name);
            var rv = (string?)meta["resourceVersion"];
            if (!string.IsNullOrEmpty(rv) && rv != old.ResourceVersion.ToString(CultureInfo.InvariantCulture))
            {
                throw KubeApiException.Conflict(t, name);
            }
            return Replace(t, old, obj, mode);
        }
    }

    internal StoredObject Upsert(ResourceType t, JsonObject obj)
    {
        var meta = Metadata(obj);
        var (ns, name) = Identify(t, obj, meta, null, null);
        lock (_gate)
        {
            var old = _tables[t].Items.GetValueOrDefault(Key(t, ns, name));
            if (old is null)
            {
                meta.Remove("resourceVersion");
                return CreateLocked(t, obj, meta, ns, name);
            }
            meta.Remove("resourceVersion");
            return Replace(t, old, obj, UpdateMode.Store);
        }
    }

    internal StoredObject Patch(ResourceType t, string? ns, string name, string contentType, byte[] patch, bool statusOnly, string? fieldManager = null)
    {
        ns = t.Namespaced ? (string.IsNullOrEmpty(ns) ? "default" : ns) : "";
        var mediaType = contentType.Split(';')[0].Trim().ToLowerInvariant();
        lock (_gate)
        {
            var old = _tables[t].Items.GetValueOrDefault(Key(t, ns, name));
            if (old is null)
            {
                if (mediaType == "application/apply-patch+yaml")
                {
                    var created = Patcher.ParseApplyConfiguration(patch);
                    created["kind"] ??= t.Kind;
                    created["apiVersion"] ??= t.ApiVersion;
                    Metadata(created)["name"] ??= name;
                    _ = fieldManager;
                    return Create(t, created, t.Namespaced ? ns : null);
                }
                throw KubeApiException.NotFound(t, name);
            }
            var current = old.ToNode();
            var patched = Patcher.Apply(mediaType, current, patch);
            if (patched is not JsonObject patchedObject)
            {
                throw KubeApiException.BadRequest("the patch did not produce a JSON object");
            }
            var meta = Metadata(patchedObject);
            if ((string?)meta["name"] != name)
            {
                throw KubeApiException.BadRequest("metadata.name: the name of the object cannot be changed by a patch");
            }
            var rv = (string?)meta["resourceVersion"];
            if (!string.IsNullOrEmpty(rv) && rv != old.ResourceVersion.ToString(CultureInfo.InvariantCulture))
            {
                throw KubeApiException.Conflict(t, name);
            }
            return Replace(t, old, patchedObject, statusOnly ? UpdateMode.Status : UpdateMode.MainResource);
        }
    }

    internal StoredObject Delete(ResourceType t, string? ns, string name)
    {
        ns = t.Namespaced ? (string.IsNullOrEmpty(ns) ? "default" : ns) : "";
        lock (_gate)
        {
            var key = Key(t, ns, name);
            var old = _tables[t].Items.GetValueOrDefault(key) ?? throw KubeApiException.NotFound(t, name);
            if (t == ResourceCatalog.Namespaces)
            {
                // kube-apiserver's namespace controller empties a deleted namespace; here it happens at once.
                foreach (var inner in ResourceCatalog.All.Where(r => r.Namespaced))
                {
                    foreach (var k in Range(_tables[inner], inner, name, null).ToList())
                    {
                        var o = _tables[inner].Items[k];
                        DeleteLocked(inner, k, o);
                    }
                }
            }
            return DeleteLocked(t, key, old);
        }
    }

    /// <summary>One page of a list, as kube-apiserver serves it from etcd: ordered by key, continuing after the
    /// token's key, and consistent with the first page's resourceVersion while the history still covers it.</summary>
    internal ListPage List(ResourceType t, string? ns, ObjectFilter? filter, int limit, string? continueToken)
    {
        lock (_gate)
        {
            var table = _tables[t];
            long atRv = _resourceVersion;
            string? startAfter = null;
            if (!string.IsNullOrEmpty(continueToken))
            {
                (atRv, startAfter) = ContinueToken.Decode(continueToken);
                if (atRv < _compactedResourceVersion)
                {
                    throw new KubeApiException(410, "Expired",
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
                }
            }

            // State at atRv = current state, except keys changed since: those take the state before their first later change.
            SortedDictionary<string, StoredObject?>? overlay = null;
            if (atRv < _resourceVersion)
            {
                overlay = new SortedDictionary<string, StoredObject?>(StringComparer.Ordinal);
                for (int i = FirstIndexAfter(atRv); i < _historyCount; i++)
                {
                    var e = HistoryAt(i);
                    if (e.Type != t || (ns is not null && e.Object.Namespace != ns)) continue;
                    var k = Key(t, e.Object.Namespace, e.Object.Name);
                    if (startAfter is not null && string.CompareOrdinal(k, startAfter) <= 0) continue;
                    overlay.TryAdd(k, e.Kind == WatchEventKind.Added ? null : e.Old);
                }
            }

            var items = new List<StoredObject>();
            string? lastKey = null;
            bool more = false;
            foreach (var key in Merge(Range(table, t, ns, startAfter), overlay?.Keys))
            {
                StoredObject? o = overlay is not null && overlay.TryGetValue(key, out var before) ? before : table.Items.GetValueOrDefault(key);
                if (o is null) continue;
                if (limit > 0 && items.Count >= limit)
                {
                    more = true;
                    break;
                }
                if (filter is not null && !filter.Matches(o)) continue;
                items.Add(o);
                lastKey = key;
            }
            long? remaining = more && filter is null ? RemainingAfter(table, t, ns, lastKey!, overlay) : null;
            return new ListPage(items, atRv, more ? ContinueToken.Encode(atRv, lastKey!) : null, remaining);
        }
    }

    /// <summary>How many objects follow <paramref name="lastKey"/> in the list as of its resourceVersion: the keys
    /// counted without walking them, corrected for the keys the history says differed then.</summary>
    private static int RemainingAfter(Table table, ResourceType t, string? ns, string lastKey, SortedDictionary<string, StoredObject?>? overlay)
    {
        var (lower, upper) = Bounds(t, ns, lastKey);
        int remaining = table.Keys.CountBetween(lower, upper);
        if (overlay is null) return remaining;
        foreach (var (key, before) in overlay)
        {
            if (string.CompareOrdinal(key, lastKey) <= 0) continue;
            bool now = table.Items.ContainsKey(key);
            if (now && before is null) remaining--;
            else if (!now && before is not null) remaining++;
        }
        return remaining;
    }

    /// <summary>Registers a watch. With <paramref name="fromResourceVersion"/> null, the current objects come first
    /// as ADDED; otherwise the history after it is replayed (410 Expired if it is older than the history).</summary>
    internal WatchSubscription Watch(ResourceType t, string? ns, ObjectFilter? filter, long? fromResourceVersion, bool initialEventsEndBookmark)
    {
        lock (_gate)
        {
            var sub = new WatchSubscription(this, t, ns, filter);
            if (fromResourceVersion is null)
            {
                foreach (var key in Range(_tables[t], t, ns, null))
                {
                    var o = _tables[t].Items[key];
                    if (sub.Sees(o)) sub.Post(new("ADDED", o.Json));
                }
                if (initialEventsEndBookmark)
                {
                    sub.Post(new("BOOKMARK", BookmarkJson(t, _resourceVersion, initialEventsEnd: true)));
                }
            }
            else
            {
                long from = fromResourceVersion.Value;
                if (from < _compactedResourceVersion)
                {
                    throw new KubeApiException(410, "Expired", $"too old resource version: {from} ({_compactedResourceVersion})");
                }
                for (int i = FirstIndexAfter(from); i < _historyCount; i++)
                {
                    sub.Deliver(HistoryAt(i));
                }
            }
            _watchers.Add(sub);
            return sub;
        }
    }

    /// <summary>Queues a BOOKMARK at the current resourceVersion behind every event already queued for this watch.</summary>
    internal void Bookmark(WatchSubscription sub)
    {
        lock (_gate)
        {
            sub.Post(new("BOOKMARK", BookmarkJson(sub.Type, _resourceVersion, initialEventsEnd: false)));
        }
    }

    internal void Unsubscribe(WatchSubscription sub)
    {
        lock (_gate)
        {
            _watchers.Remove(sub);
        }
        sub.Complete();
    }

    internal static byte[] BookmarkJson(ResourceType t, long rv, bool initialEventsEnd)
    {
        var meta = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture), ["creationTimestamp"] = null };
        if (initialEventsEnd)
        {
            meta["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
        }
        return JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["kind"] = t.Kind, ["apiVersion"] = t.ApiVersion, ["metadata"] = meta }, Compact);
    }

    // ---- internals ----------------------------------------------------------------------------------------

    internal sealed record ListPage(List<StoredObject> Items, long ResourceVersion, string? Continue, long? RemainingItemCount);

    private sealed class Table
    {
        public OrderedKeySet Keys { get; } = new();
        public Dictionary<string, StoredObject> Items { get; } = new(StringComparer.Ordinal);
    }

    private StoredObject Replace(ResourceType t, StoredObject old, JsonObject obj, UpdateMode mode)
    {
        var oldNode = old.ToNode();
        var oldMeta = Metadata(oldNode);
        if (mode == UpdateMode.Status)
        {
            // Only status moves; everything else stays as stored.
            var status = obj["status"]?.DeepClone();
            obj = oldNode.DeepClone().AsObject();
            if (status is null) obj.Remove("status");
            else obj["status"] = status;
        }
        else if (mode == UpdateMode.MainResource && t.HasStatusSubresource)
        {
            var status = oldNode["status"]?.DeepClone();
            if (status is null) obj.Remove("status");
            else obj["status"] = status;
        }
        var meta = Metadata(obj);
        meta["uid"] = oldMeta["uid"]?.DeepClone();
        meta["creationTimestamp"] = oldMeta["creationTimestamp"]?.DeepClone();
        meta["namespace"] = oldMeta["namespace"]?.DeepClone();
        if (meta["namespace"] is null) meta.Remove("namespace");
        long generation = (long?)oldMeta["generation"] ?? 0;
        if (generation > 0 || obj["spec"] is not null)
        {
            bool specChanged = !JsonNode.DeepEquals(obj["spec"], oldNode["spec"]);
            meta["generation"] = Math.Max(1, specChanged ? generation + 1 : generation);
        }
        ObjectDefaults.Apply(t, obj, oldNode, this);

        // kube-apiserver skips a write that changes nothing: no new resourceVersion, no event.
        meta["resourceVersion"] = old.ResourceVersion.ToString(CultureInfo.InvariantCulture);
        if (JsonNode.DeepEquals(obj, oldNode))
        {
            return old;
        }
        if (t == ResourceCatalog.Services) ReleaseClusterIps(oldNode);
        return Commit(t, obj, old.Namespace, old.Name, old);
    }

    private StoredObject Commit(ResourceType t, JsonObject obj, string ns, string name, StoredObject? old)
    {
        var rv = ++_resourceVersion;
        var meta = Metadata(obj);
        meta["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
        OrderObject(obj);
        var stored = new StoredObject(ns, name, rv, JsonSerializer.SerializeToUtf8Bytes(obj, Compact), Labels(meta));
        var table = _tables[t];
        var key = Key(t, ns, name);
        table.Keys.Add(key);
        table.Items[key] = stored;
        if (t == ResourceCatalog.Services) ReserveClusterIps(obj);
        Record(new WatchEvent(rv, t, old is null ? WatchEventKind.Added : WatchEventKind.Modified, stored, old));
        return stored;
    }

    private StoredObject DeleteLocked(ResourceType t, string key, StoredObject old)
    {
        var rv = ++_resourceVersion;
        var node = old.ToNode();
        if (t == ResourceCatalog.Services) ReleaseClusterIps(node);
        Metadata(node)["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
        var gone = new StoredObject(old.Namespace, old.Name, rv, JsonSerializer.SerializeToUtf8Bytes(node, Compact), old.Labels);
        _tables[t].Keys.Remove(key);
        _tables[t].Items.Remove(key);
        Record(new WatchEvent(rv, t, WatchEventKind.Deleted, gone, old));
        return gone;
    }

    private void Record(WatchEvent e)
    {
        int capacity = _history.Length;
        if (_historyCount == capacity)
        {
            _compactedResourceVersion = _history[_historyHead]!.ResourceVersion;
            _history[_historyHead] = e;
            _historyHead = (_historyHead + 1) % capacity;
        }
        else
        {
            _history[(_historyHead + _historyCount) % capacity] = e;
            _historyCount++;
        }
        foreach (var w in _watchers)
        {
            w.Deliver(e);
        }
    }

    private WatchEvent HistoryAt(int i) => _history[(_historyHead + i) % _history.Length]!;

    private int FirstIndexAfter(long rv)
    {
        int lo = 0, hi = _historyCount;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (HistoryAt(mid).ResourceVersion <= rv) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>The key range of a list: a namespace's keys are "ns/name", and '0' sorts right after '/'.
    /// A continue token's key moves the start to the smallest key after it.</summary>
    private static (string Lower, string? Upper) Bounds(ResourceType t, string? ns, string? startAfter)
    {
        bool whole = ns is null || !t.Namespaced;
        string lower = whole ? "" : ns + "/";
        string? upper = whole ? null : ns + "0";
        if (startAfter is not null && string.CompareOrdinal(startAfter, lower) >= 0)
        {
            lower = startAfter + "\0";
        }
        return (lower, upper);
    }

    private static IEnumerable<string> Range(Table table, ResourceType t, string? ns, string? startAfter)
    {
        var (lower, upper) = Bounds(t, ns, startAfter);
        return table.Keys.Between(lower, upper);
    }

    private static IEnumerable<string> Merge(IEnumerable<string> a, IEnumerable<string>? b)
    {
        if (b is null)
        {
            foreach (var k in a) yield return k;
            yield break;
        }
        using var ea = a.GetEnumerator();
        using var eb = b.GetEnumerator();
        bool ha = ea.MoveNext(), hb = eb.MoveNext();
        while (ha || hb)
        {
            int c = !ha ? 1 : !hb ? -1 : string.CompareOrdinal(ea.Current, eb.Current);
            if (c <= 0)
            {
                yield return ea.Current;
                if (c == 0) hb = eb.MoveNext();
                ha = ea.MoveNext();
            }
            else
            {
                yield return eb.Current;
                hb = eb.MoveNext();
            }
        }
    }

    private static string Key(ResourceType t, string? ns, string name) =>
        t.Namespaced ? (string.IsNullOrEmpty(ns) ? "default" : ns) + "/" + name : name;

    private static (string Ns, string Name) Identify(ResourceType t, JsonObject obj, JsonObject meta, string? pathNamespace, string? pathName)
    {
        var kind = (string?)obj["kind"];
        if (!string.IsNullOrEmpty(kind) && kind != t.Kind)
        {
            throw KubeApiException.BadRequest($"the kind \"{kind}\" of the object does not match the resource {t.Plural} ({t.Kind})");
        }
        obj["kind"] = t.Kind;
        obj["apiVersion"] = t.ApiVersion;
        var name = (string?)meta["name"] ?? "";
        if (pathName is not null && name != pathName)
        {
            throw KubeApiException.BadRequest($"the name of the object ({name}) does not match the name on the URL ({pathName})");
        }
        if (name.Length == 0 && string.IsNullOrEmpty((string?)meta["generateName"]))
        {
            throw new KubeApiException(422, "Invalid", $"{t.Kind} \"\" is invalid: metadata.name: Required value: name or generateName is required", "", t.Kind, t.Group);
        }
        string ns = "";
        if (t.Namespaced)
        {
            var bodyNs = (string?)meta["namespace"];
            if (pathNamespace is not null && !string.IsNullOrEmpty(bodyNs) && bodyNs != pathNamespace)
            {
                throw KubeApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            }
            ns = pathNamespace ?? (string.IsNullOrEmpty(bodyNs) ? "default" : bodyNs);
            meta["namespace"] = ns;
        }
        else
        {
            meta.Remove("namespace");
        }
        return (ns, name);
    }

    internal static JsonObject Metadata(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject m) return m;
        var meta = new JsonObject();
        obj["metadata"] = meta;
        return meta;
    }

    private static JsonObject ParseObject(string json)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw KubeApiException.BadRequest("the body is not a JSON object");
        }
        catch (JsonException e)
        {
            throw KubeApiException.BadRequest("the body is not valid JSON: " + e.Message);
        }
    }

    /// <summary>kube-apiserver writes kind, apiVersion, metadata, then the rest; so do we.</summary>
    private static void OrderObject(JsonObject obj)
    {
        if (obj.Count == 0) return;
        var props = obj.ToList();
        obj.Clear();
        foreach (var name in new[] { "kind", "apiVersion", "metadata" })
        {
            var p = props.FirstOrDefault(p => p.Key == name);
            if (p.Key is not null) obj[p.Key] = p.Value;
        }
        foreach (var p in props)
        {
            if (p.Key is not ("kind" or "apiVersion" or "metadata")) obj[p.Key] = p.Value;
        }
    }

    private static Dictionary<string, string>? Labels(JsonObject meta)
    {
        if (meta["labels"] is not JsonObject labels || labels.Count == 0) return null;
        var d = new Dictionary<string, string>(labels.Count, StringComparer.Ordinal);
        foreach (var (k, v) in labels)
        {
            d[k] = v?.GetValueKind() == JsonValueKind.String ? (string)v! : v?.ToJsonString() ?? "";
        }
        return d;
    }

    private static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>A random (version 4) UUID, as kube-apiserver gives each object. Drawn from the store's own generator
    /// under its lock: Guid.NewGuid asks the system generator each time, about a tenth of loading 100,000 pods.</summary>
    private string NewUid()
    {
        Span<byte> b = stackalloc byte[16];
        _uidSource.NextBytes(b);
        b[7] = (byte)((b[7] & 0x0F) | 0x40);
        b[8] = (byte)((b[8] & 0x3F) | 0x80);
        return new Guid(b).ToString();
    }

    private static string RandomSuffix()
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        Span<char> s = stackalloc char[5];
        for (int i = 0; i < s.Length; i++) s[i] = alphabet[Random.Shared.Next(alphabet.Length)];
        return new string(s);
    }

    // ---- ClusterIP allocation (10.96.0.0/16, as a kubeadm cluster's service CIDR) ----------------------------

    internal string AllocateClusterIp()
    {
        for (int tries = 0; tries < 65534; tries++)
        {
            uint ip = _nextClusterIp;
            _nextClusterIp = ip >= 0x0A60FFFE ? 0x0A600001 : ip + 1;
            var text = $"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}";
            if (!_usedClusterIps.Contains(text)) return text;
        }
        throw new KubeApiException(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: range is full");
    }

    internal bool ClusterIpInUse(string ip) => _usedClusterIps.Contains(ip);

    private void ReserveClusterIps(JsonObject svc)
    {
        if (svc["spec"]?["clusterIPs"] is JsonArray ips)
        {
            foreach (var ip in ips)
            {
                if (ip?.GetValue<string>() is { } s && s != "None") _usedClusterIps.Add(s);
            }
        }
    }

    private void ReleaseClusterIps(JsonObject svc)
    {
        if (svc["spec"]?["clusterIPs"] is JsonArray ips)
        {
            foreach (var ip in ips)
            {
                if (ip?.GetValue<string>() is { } s) _usedClusterIps.Remove(s);
            }
        }
    }
}

/// <summary>The continue token, in kube-apiserver's own format: base64 of {"v":"meta.k8s.io/v1","rv":N,"start":"key\0"}.</summary>
internal static class ContinueToken
{
    public static string Encode(long rv, string lastKey)
    {
        var json = new JsonObject { ["v"] = "meta.k8s.io/v1", ["rv"] = rv, ["start"] = lastKey + "\0" }.ToJsonString();
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static (long Rv, string LastKey) Decode(string token)
    {
        try
        {
            var b64 = token.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            var node = JsonNode.Parse(Convert.FromBase64String(b64))!;
            var start = (string)node["start"]!;
            return ((long)node["rv"]!, start.TrimEnd('\0'));
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException or NullReferenceException or InvalidCastException)
        {
            throw KubeApiException.BadRequest("continue key is not valid: " + e.Message);
        }
    }
}
