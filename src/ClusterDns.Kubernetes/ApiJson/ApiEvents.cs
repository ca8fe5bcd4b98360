using System.Text.Json;

namespace ClusterDns.Kubernetes.ApiJson;

internal enum WatchEventKind : byte { Added, Modified, Deleted, Bookmark, Error }

/// <summary>One watch event as the reflector applies it: the record (Added/Modified), the key, the resourceVersion, or the Status of an ERROR.</summary>
internal readonly record struct WatchEvent<TRecord>(WatchEventKind Kind, string? Key, TRecord? Record, string? ResourceVersion, ApiStatus Status)
    where TRecord : class;

/// <summary>The parts of a metav1 Status an error needs.</summary>
internal readonly record struct ApiStatus(int Code, string? Reason, string? Message);

/// <summary>The two bodies a reflector reads: a page of a list, and one line of a watch stream.</summary>
internal static class ApiEvents
{
    /// <summary>Reads one list page into <paramref name="records"/> (objects without a record are left out); its continue token and resourceVersion.</summary>
    public static (string? Continue, string? ResourceVersion) ReadPage<TRecord>(ReadOnlySpan<byte> json, ApiObjectReader<TRecord> objects,
        Dictionary<string, TRecord> records) where TRecord : class
    {
        var reader = new Utf8JsonReader(json);
        string? continueToken = null, resourceVersion = null;
        JsonRead.Next(ref reader);
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "list")) throw JsonRead.Unexpected(ref reader, "list", "an object");
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("metadata"u8))
            {
                JsonRead.Next(ref reader);
                if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "metadata")) continue;
                while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("continue"u8))
                    {
                        JsonRead.Next(ref reader);
                        continueToken = JsonRead.String(ref reader, "metadata.continue");
                    }
                    else if (reader.ValueTextEquals("resourceVersion"u8))
                    {
                        JsonRead.Next(ref reader);
                        resourceVersion = JsonRead.String(ref reader, "metadata.resourceVersion");
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("items"u8))
            {
                JsonRead.Next(ref reader);
                if (!JsonRead.Enter(ref reader, JsonTokenType.StartArray, "items")) continue;
                while (JsonRead.Next(ref reader) != JsonTokenType.EndArray)
                {
                    var meta = new ObjectMeta();
                    if (objects.Read(ref reader, ref meta) is { } record) records[meta.Key] = record;
                }
            }
            else
            {
                reader.Skip();
            }
        }
        return (continueToken, resourceVersion);
    }

    /// <summary>Reads one watch event, <c>{"type":..., "object":...}</c> in either order.</summary>
    public static WatchEvent<TRecord> ReadWatchEvent<TRecord>(ReadOnlySpan<byte> line, ApiObjectReader<TRecord> objects) where TRecord : class
    {
        var reader = new Utf8JsonReader(line);
        JsonRead.Next(ref reader);
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "watch event")) throw JsonRead.Unexpected(ref reader, "watch event", "an object");
        WatchEventKind? kind = null;
        var objectAt = default(Utf8JsonReader);
        var hasObject = false;
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                JsonRead.Next(ref reader);
                kind = KindOf(ref reader);
            }
            else if (reader.ValueTextEquals("object"u8))
            {
                // A copy of the reader is a bookmark into the same bytes: the object is read once the type says how.
                JsonRead.Next(ref reader);
                objectAt = reader;
                hasObject = true;
                reader.Skip();
            }
            else
            {
                reader.Skip();
            }
        }
        if (kind is not { } type) throw new JsonException("a watch event without a type");
        if (!hasObject) throw new JsonException($"a watch {type.ToString().ToUpperInvariant()} event without an object");
        var meta = new ObjectMeta { WantResourceVersion = true };
        switch (type)
        {
            case WatchEventKind.Added:
            case WatchEventKind.Modified:
                var record = objects.Read(ref objectAt, ref meta);
                return new WatchEvent<TRecord>(type, meta.Key, record, meta.ResourceVersion, default);
            case WatchEventKind.Deleted:
                objects.ReadMetadata(ref objectAt, ref meta);
                return new WatchEvent<TRecord>(type, meta.Key, null, meta.ResourceVersion, default);
            case WatchEventKind.Bookmark:
                objects.ReadMetadata(ref objectAt, ref meta);
                return new WatchEvent<TRecord>(type, null, null, meta.ResourceVersion, default);
            default:
                if (!JsonRead.Enter(ref objectAt, JsonTokenType.StartObject, "object")) return new WatchEvent<TRecord>(type, null, null, null, default);
                return new WatchEvent<TRecord>(type, null, null, null, ReadStatus(ref objectAt));
        }
    }

    /// <summary>Reads the Status object the reader is on (its start).</summary>
    public static ApiStatus ReadStatus(ref Utf8JsonReader reader)
    {
        var code = 0;
        string? reason = null, message = null;
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("code"u8))
            {
                JsonRead.Next(ref reader);
                code = JsonRead.Int32(ref reader, "status.code") ?? 0;
            }
            else if (reader.ValueTextEquals("reason"u8))
            {
                JsonRead.Next(ref reader);
                reason = JsonRead.String(ref reader, "status.reason");
            }
            else if (reader.ValueTextEquals("message"u8))
            {
                JsonRead.Next(ref reader);
                message = JsonRead.String(ref reader, "status.message");
            }
            else
            {
                reader.Skip();
            }
        }
        return new ApiStatus(code, reason, message);
    }

    private static WatchEventKind KindOf(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String) throw JsonRead.Unexpected(ref reader, "type", "a string");
        if (reader.ValueTextEquals("ADDED"u8)) return WatchEventKind.Added;
        if (reader.ValueTextEquals("MODIFIED"u8)) return WatchEventKind.Modified;
        if (reader.ValueTextEquals("DELETED"u8)) return WatchEventKind.Deleted;
        if (reader.ValueTextEquals("BOOKMARK"u8)) return WatchEventKind.Bookmark;
        if (reader.ValueTextEquals("ERROR"u8)) return WatchEventKind.Error;
        throw new JsonException($"unknown watch event type \"{reader.GetString()}\"");
    }
}
