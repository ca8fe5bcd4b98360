using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ClusterDns.KubeEmulator;

/// <summary>Answers one HTTP request the way kube-apiserver would: discovery, then list/watch/get/create/update/patch/delete.</summary>
internal sealed class ApiHandler(ClusterStore store, KubeEmulatorOptions options, CancellationToken stopping, Func<Uri> baseAddress)
{
    private static readonly string[] Verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
    private static readonly byte[] EventPrefix = "{\"type\":\""u8.ToArray();
    private static readonly byte[] EventMiddle = "\",\"object\":"u8.ToArray();
    private static readonly byte[] EventSuffix = "}\n"u8.ToArray();

    public async Task HandleAsync(HttpContext ctx)
    {
        try
        {
            await RouteAsync(ctx).ConfigureAwait(false);
        }
        catch (KubeApiException e)
        {
            await WriteStatusAsync(ctx, e).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested || stopping.IsCancellationRequested)
        {
            ctx.Abort();
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            await WriteStatusAsync(ctx, new KubeApiException(400, "BadRequest", e.Message)).ConfigureAwait(false);
        }
    }

    private static async Task WriteStatusAsync(HttpContext ctx, KubeApiException e)
    {
        if (ctx.Response.HasStarted)
        {
            ctx.Abort();
            return;
        }
        ctx.Response.StatusCode = e.Code;
        await WriteJsonAsync(ctx, e.ToStatus()).ConfigureAwait(false);
    }

    private static Task WriteJsonAsync(HttpContext ctx, JsonNode node)
    {
        ctx.Response.ContentType = "application/json";
        return ctx.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(node)).AsTask();
    }

    private static async Task WriteBytesAsync(HttpContext ctx, byte[] json, int status = 200)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = json.Length;
        await ctx.Response.Body.WriteAsync(json).ConfigureAwait(false);
    }

    private async Task RouteAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "/";
        var seg = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (seg.Length == 0)
        {
            await WriteJsonAsync(ctx, RootPaths()).ConfigureAwait(false);
            return;
        }
        switch (seg[0])
        {
            case "version" when seg.Length == 1:
                await WriteJsonAsync(ctx, Version()).ConfigureAwait(false);
                return;
            case "healthz" or "livez" or "readyz":
                ctx.Response.ContentType = "text/plain; charset=utf-8";
                await ctx.Response.WriteAsync("ok").ConfigureAwait(false);
                return;
            case "openapi" when seg.Length == 2 && seg[1] == "v3":
                await WriteJsonAsync(ctx, OpenApi.Root()).ConfigureAwait(false);
                return;
            case "openapi" when seg.Length >= 3 && seg[1] == "v3" && OpenApi.GroupVersion(string.Join('/', seg[2..])) is { } doc:
                await WriteJsonAsync(ctx, doc).ConfigureAwait(false);
                return;
            case "api" when seg.Length == 1:
                await WriteJsonAsync(ctx, ApiVersions()).ConfigureAwait(false);
                return;
            case "api" when seg.Length == 2 && seg[1] == "v1":
                await WriteJsonAsync(ctx, ResourceList("", "v1")).ConfigureAwait(false);
                return;
            case "api" when seg[1] == "v1":
                await ResourceAsync(ctx, "", "v1", seg[2..]).ConfigureAwait(false);
                return;
            case "apis" when seg.Length == 1:
                await WriteJsonAsync(ctx, GroupList()).ConfigureAwait(false);
                return;
            case "apis" when seg.Length == 2 && Groups().Contains(seg[1]):
                await WriteJsonAsync(ctx, Group(seg[1])).ConfigureAwait(false);
                return;
            case "apis" when seg.Length == 3 && Groups().Contains(seg[1]) && seg[2] == "v1":
                await WriteJsonAsync(ctx, ResourceList(seg[1], "v1")).ConfigureAwait(false);
                return;
            case "apis" when seg.Length > 3 && Groups().Contains(seg[1]) && seg[2] == "v1":
                await ResourceAsync(ctx, seg[1], seg[2], seg[3..]).ConfigureAwait(false);
                return;
        }
        throw NotFoundPath();
    }

    private static KubeApiException NotFoundPath() => new(404, "NotFound", "the server could not find the requested resource");

    // ---- discovery -----------------------------------------------------------------------------------------

    private static IEnumerable<string> Groups() => ResourceCatalog.All.Where(t => t.Group.Length > 0).Select(t => t.Group).Distinct();

    private static JsonObject RootPaths()
    {
        var paths = new JsonArray("/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version");
        foreach (var g in Groups())
        {
            paths.Add($"/apis/{g}");
            paths.Add($"/apis/{g}/v1");
        }
        return new JsonObject { ["paths"] = paths };
    }

    private static JsonObject Version() => new()
    {
        ["major"] = "1",
        ["minor"] = "32",
        ["gitVersion"] = "v1.32.0-clusterdns-emulator",
        ["gitCommit"] = "0000000000000000000000000000000000000000",
        ["gitTreeState"] = "clean",
        ["buildDate"] = "2025-01-01T00:00:00Z",
        ["goVersion"] = "go1.23.0",
        ["compiler"] = "gc",
        ["platform"] = "linux/amd64",
    };

    private JsonObject ApiVersions() => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = baseAddress().Authority }),
    };

    private static JsonObject Group(string group) => new()
    {
        ["kind"] = "APIGroup",
        ["apiVersion"] = "v1",
        ["name"] = group,
        ["versions"] = new JsonArray(new JsonObject { ["groupVersion"] = group + "/v1", ["version"] = "v1" }),
        ["preferredVersion"] = new JsonObject { ["groupVersion"] = group + "/v1", ["version"] = "v1" },
    };

    private static JsonObject GroupList()
    {
        var groups = new JsonArray();
        foreach (var g in Groups()) groups.Add(Group(g));
        foreach (var g in groups.OfType<JsonObject>()) { g.Remove("kind"); g.Remove("apiVersion"); }
        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }

    private static JsonObject ResourceList(string group, string version)
    {
        var resources = new JsonArray();
        foreach (var t in ResourceCatalog.All.Where(t => t.Group == group && t.Version == version))
        {
            var r = new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Singular,
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = new JsonArray(Verbs.Select(v => (JsonNode?)v).ToArray()),
            };
            if (t.ShortNames.Length > 0) r["shortNames"] = new JsonArray(t.ShortNames.Select(v => (JsonNode?)v).ToArray());
            if (t == ResourceCatalog.Services || t == ResourceCatalog.Pods) r["categories"] = new JsonArray("all");
            resources.Add(r);
            if (t.HasStatusSubresource)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = t.Plural + "/status",
                    ["singularName"] = "",
                    ["namespaced"] = t.Namespaced,
                    ["kind"] = t.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
        }
        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : group + "/" + version,
            ["resources"] = resources,
        };
    }

    // ---- resources ----------------------------------------------------------------------------------------

    private async Task ResourceAsync(HttpContext ctx, string group, string version, string[] rest)
    {
        bool watchPath = rest.Length > 0 && rest[0] == "watch";
        if (watchPath) rest = rest[1..];
        string? ns = null, name = null, sub = null;
        ResourceType? t;
        if (rest.Length >= 3 && rest[0] == "namespaces" && ResourceCatalog.Find(group, version, rest[2]) is { Namespaced: true } inner)
        {
            t = inner;
            ns = rest[1];
            name = rest.Length > 3 ? rest[3] : null;
            sub = rest.Length > 4 ? rest[4] : null;
            if (rest.Length > 5) throw NotFoundPath();
        }
        else
        {
            t = rest.Length > 0 ? ResourceCatalog.Find(group, version, rest[0]) : null;
            name = rest.Length > 1 ? rest[1] : null;
            sub = rest.Length > 2 ? rest[2] : null;
            if (t is null || rest.Length > 3 || (name is not null && t.Namespaced)) throw NotFoundPath();
        }
        if (sub is not null && !(sub == "status" && t.HasStatusSubresource) && !(sub == "finalize" && t == ResourceCatalog.Namespaces))
        {
            throw NotFoundPath();
        }
        var q = ctx.Request.Query;
        var method = ctx.Request.Method;
        bool watch = watchPath || IsTrue(q["watch"]);

        if (HttpMethods.IsGet(method))
        {
            if (watch)
            {
                var fieldSelector = (string?)q["fieldSelector"];
                if (name is not null)
                {
                    fieldSelector = string.IsNullOrEmpty(fieldSelector) ? $"metadata.name={name}" : $"{fieldSelector},metadata.name={name}";
                }
                await WatchAsync(ctx, t, ns, ObjectFilter.Parse(q["labelSelector"], fieldSelector)).ConfigureAwait(false);
            }
            else if (name is null)
            {
                await ListAsync(ctx, t, ns).ConfigureAwait(false);
            }
            else
            {
                var o = store.Find(t, ns, name) ?? throw KubeApiException.NotFound(t, name);
                if (WantsTable(ctx)) await WriteJsonAsync(ctx, TableWriter.Table(t, [o], o.ResourceVersion, null, IncludeObject(ctx))).ConfigureAwait(false);
                else await WriteBytesAsync(ctx, o.Json).ConfigureAwait(false);
            }
            return;
        }
        bool dryRun = !string.IsNullOrEmpty(q["dryRun"]);
        if (HttpMethods.IsPost(method) && name is null)
        {
            var body = await ReadObjectAsync(ctx).ConfigureAwait(false);
            if (t.Namespaced && !store.NamespaceExists(ns ?? (string?)body["metadata"]?["namespace"] ?? "default"))
            {
                throw KubeApiException.NotFound(ResourceCatalog.Namespaces, ns ?? (string?)body["metadata"]?["namespace"] ?? "default");
            }
            if (dryRun)
            {
                await WriteJsonAsync(ctx, body).ConfigureAwait(false);
                return;
            }
            var created = store.Create(t, body, ns);
            await WriteBytesAsync(ctx, created.Json, 201).ConfigureAwait(false);
            return;
        }
        if (HttpMethods.IsPut(method) && name is not null)
        {
            var body = await ReadObjectAsync(ctx).ConfigureAwait(false);
            var mode = sub == "status" ? ClusterStore.UpdateMode.Status : ClusterStore.UpdateMode.MainResource;
            var updated = store.Update(t, body, ns, name, mode);
            await WriteBytesAsync(ctx, updated.Json).ConfigureAwait(false);
            return;
        }
        if (HttpMethods.IsPatch(method) && name is not null)
        {
            var body = await ReadBodyAsync(ctx).ConfigureAwait(false);
            var contentType = ctx.Request.ContentType ?? "";
            if (contentType.StartsWith("application/apply-patch", StringComparison.Ordinal) && string.IsNullOrEmpty(q["fieldManager"]))
            {
                throw new KubeApiException(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
            }
            bool existed = store.Find(t, ns, name) is not null;
            var patched = store.Patch(t, ns, name, contentType, body, sub == "status", q["fieldManager"]);
            await WriteBytesAsync(ctx, patched.Json, existed ? 200 : 201).ConfigureAwait(false);
            return;
        }
        if (HttpMethods.IsDelete(method))
        {
            if (name is null)
            {
                await DeleteCollectionAsync(ctx, t, ns).ConfigureAwait(false);
                return;
            }
            var body = await ReadBodyAsync(ctx).ConfigureAwait(false);
            CheckPreconditions(t, ns, name, body);
            var deleted = store.Delete(t, ns, name);
            await WriteBytesAsync(ctx, deleted.Json).ConfigureAwait(false);
            return;
        }
        ctx.Response.Headers.Allow = name is null ? "GET, POST, DELETE" : "GET, PUT, PATCH, DELETE";
        throw new KubeApiException(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource");
    }

    private void CheckPreconditions(ResourceType t, string? ns, string name, byte[] body)
    {
        if (body.Length == 0) return;
        if (JsonNode.Parse(body)?["preconditions"] is not JsonObject pre) return;
        var current = store.Find(t, ns, name) ?? throw KubeApiException.NotFound(t, name);
        var rv = (string?)pre["resourceVersion"];
        if (!string.IsNullOrEmpty(rv) && rv != current.ResourceVersion.ToString(CultureInfo.InvariantCulture))
        {
            throw new KubeApiException(409, "Conflict",
                $"Operation cannot be fulfilled on {KubeApiException.QualifiedResource(t)} \"{name}\": Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current.ResourceVersion}",
                name, t.Plural, t.Group);
        }
        var uid = (string?)pre["uid"];
        if (!string.IsNullOrEmpty(uid) && uid != (string?)current.ToNode()["metadata"]?["uid"])
        {
            throw new KubeApiException(409, "Conflict",
                $"Operation cannot be fulfilled on {KubeApiException.QualifiedResource(t)} \"{name}\": Precondition failed: UID in precondition: {uid}",
                name, t.Plural, t.Group);
        }
    }

    private static bool IsTrue(string? v) => v is "true" or "1" or "True";

    private static async Task<byte[]> ReadBodyAsync(HttpContext ctx)
    {
        using var ms = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(ms, ctx.RequestAborted).ConfigureAwait(false);
        return ms.ToArray();
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpContext ctx)
    {
        var body = await ReadBodyAsync(ctx).ConfigureAwait(false);
        var type = ctx.Request.ContentType ?? "application/json";
        if (type.Contains("yaml", StringComparison.OrdinalIgnoreCase))
        {
            return Patcher.ParseApplyConfiguration(body);
        }
        if (type.Contains("protobuf", StringComparison.OrdinalIgnoreCase))
        {
            throw new KubeApiException(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
        }
        try
        {
            return JsonNode.Parse(body) as JsonObject ?? throw KubeApiException.BadRequest("the body of the request is not a JSON object");
        }
        catch (JsonException e)
        {
            throw KubeApiException.BadRequest("the body of the request was not valid JSON: " + e.Message);
        }
    }

    private static bool WantsTable(HttpContext ctx) =>
        ctx.Request.Headers.Accept.ToString().Contains("as=Table", StringComparison.Ordinal);

    private static string IncludeObject(HttpContext ctx) => (string?)ctx.Request.Query["includeObject"] ?? "Metadata";

    // ---- list ---------------------------------------------------------------------------------------------

    private async Task ListAsync(HttpContext ctx, ResourceType t, string? ns)
    {
        var q = ctx.Request.Query;
        var filter = ObjectFilter.Parse(q["labelSelector"], q["fieldSelector"]);
        int limit = 0;
        if (!string.IsNullOrEmpty(q["limit"]) && (!int.TryParse(q["limit"], out limit) || limit < 0))
        {
            throw KubeApiException.BadRequest($"invalid limit: {q["limit"]}");
        }
        string? rv = q["resourceVersion"];
        string? cont = q["continue"];
        if (!string.IsNullOrEmpty(rv) && !long.TryParse(rv, out _))
        {
            throw KubeApiException.BadRequest($"resourceVersion: Invalid value: \"{rv}\": must be a non-negative integer");
        }
        if (!string.IsNullOrEmpty(cont) && !string.IsNullOrEmpty(rv) && rv != "0")
        {
            throw KubeApiException.BadRequest("specifying resource version is not allowed when using continue");
        }
        // resourceVersion=0 is served from the watch cache, which ignores limit (as kube-apiserver does).
        if (rv == "0" && string.IsNullOrEmpty(cont)) limit = 0;
        var page = store.List(t, ns, filter, limit, cont);
        if (WantsTable(ctx))
        {
            await WriteJsonAsync(ctx, TableWriter.Table(t, page.Items, page.ResourceVersion, page.Continue, IncludeObject(ctx))).ConfigureAwait(false);
            return;
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        var body = ctx.Response.BodyWriter;
        using (var w = new Utf8JsonWriter(body, new JsonWriterOptions { SkipValidation = true }))
        {
            w.WriteStartObject();
            w.WriteString("kind", t.ListKind);
            w.WriteString("apiVersion", t.ApiVersion);
            w.WriteStartObject("metadata");
            w.WriteString("resourceVersion", page.ResourceVersion.ToString(CultureInfo.InvariantCulture));
            if (page.Continue is not null) w.WriteString("continue", page.Continue);
            if (page.RemainingItemCount is { } remaining) w.WriteNumber("remainingItemCount", remaining);
            w.WriteEndObject();
            w.WriteStartArray("items");
            foreach (var item in page.Items)
            {
                w.WriteRawValue(item.Json, skipInputValidation: true);
                if (w.BytesPending > 32 * 1024)
                {
                    w.Flush();
                    await body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
                }
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.Flush();
        }
        await body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }

    private async Task DeleteCollectionAsync(HttpContext ctx, ResourceType t, string? ns)
    {
        var q = ctx.Request.Query;
        var filter = ObjectFilter.Parse(q["labelSelector"], q["fieldSelector"]);
        var page = store.List(t, ns, filter, 0, null);
        var items = new JsonArray();
        foreach (var o in page.Items)
        {
            try
            {
                items.Add(JsonNode.Parse(store.Delete(t, o.Namespace, o.Name).Json));
            }
            catch (KubeApiException e) when (e.Code == 404)
            {
                // Deleted meanwhile (or with its namespace).
            }
        }
        await WriteJsonAsync(ctx, new JsonObject
        {
            ["kind"] = t.ListKind,
            ["apiVersion"] = t.ApiVersion,
            ["metadata"] = new JsonObject { ["resourceVersion"] = store.ResourceVersion.ToString(CultureInfo.InvariantCulture) },
            ["items"] = items,
        }).ConfigureAwait(false);
    }

    // ---- watch --------------------------------------------------------------------------------------------

    private async Task WatchAsync(HttpContext ctx, ResourceType t, string? ns, ObjectFilter? filter)
    {
        var q = ctx.Request.Query;
        string? rv = q["resourceVersion"];
        bool bookmarks = IsTrue(q["allowWatchBookmarks"]);
        bool sendInitialEvents = IsTrue(q["sendInitialEvents"]);
        if (sendInitialEvents && (!bookmarks || (string?)q["resourceVersionMatch"] != "NotOlderThan"))
        {
            throw new KubeApiException(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan");
        }
        long? from = null;
        if (!string.IsNullOrEmpty(rv) && rv != "0")
        {
            if (!long.TryParse(rv, out var parsed) || parsed < 0)
            {
                throw KubeApiException.BadRequest($"resourceVersion: Invalid value: \"{rv}\": must be a non-negative integer");
            }
            from = parsed;
        }
        if (sendInitialEvents) from = null;
        TimeSpan? timeout = null;
        if (!string.IsNullOrEmpty(q["timeoutSeconds"]))
        {
            if (!int.TryParse(q["timeoutSeconds"], out var seconds) || seconds < 0) throw KubeApiException.BadRequest("invalid timeoutSeconds");
            if (seconds > 0) timeout = TimeSpan.FromSeconds(seconds);
        }

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        ctx.Response.Headers.CacheControl = "no-cache, private";
        var output = ctx.Response.BodyWriter;
        WatchSubscription sub;
        try
        {
            sub = store.Watch(t, ns, filter, from, sendInitialEvents);
        }
        catch (KubeApiException e) when (e.Code == 410)
        {
            // kube-apiserver accepts the watch, then sends a single ERROR event and ends the stream.
            WriteEvent(output, "ERROR", JsonSerializer.SerializeToUtf8Bytes(e.ToStatus()));
            await output.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            return;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, stopping);
        if (timeout is { } tmo) cts.CancelAfter(tmo);
        var token = cts.Token;
        Task bookmarkLoop = Task.CompletedTask;
        try
        {
            await ctx.Response.StartAsync(token).ConfigureAwait(false);
            await output.FlushAsync(token).ConfigureAwait(false);
            if (bookmarks)
            {
                bookmarkLoop = BookmarkLoopAsync(sub, token);
            }
            var reader = sub.Reader;
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var m))
                {
                    WriteEvent(output, m.Type, m.Object);
                }
                await output.FlushAsync(token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            if (stopping.IsCancellationRequested)
            {
                // The API server is going away: the client sees its connection cut, as in an outage.
                ctx.Abort();
            }
        }
        finally
        {
            sub.Dispose();
            await cts.CancelAsync().ConfigureAwait(false);
            await bookmarkLoop.ConfigureAwait(false);
        }
    }

    private async Task BookmarkLoopAsync(WatchSubscription sub, CancellationToken token)
    {
        try
        {
            using var timer = new PeriodicTimer(options.BookmarkInterval);
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                store.Bookmark(sub);
            }
        }
        catch (OperationCanceledException)
        {
            // The watch ended.
        }
    }

    private static void WriteEvent(System.IO.Pipelines.PipeWriter output, string type, byte[] obj)
    {
        output.Write(EventPrefix);
        output.Write(Encoding.ASCII.GetBytes(type));
        output.Write(EventMiddle);
        output.Write(obj);
        output.Write(EventSuffix);
    }
}
