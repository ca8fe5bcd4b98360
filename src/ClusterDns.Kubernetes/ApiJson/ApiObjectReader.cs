using System.Text.Json;

namespace ClusterDns.Kubernetes.ApiJson;

/// <summary>What a reflector needs from an object's metadata, plus the two an EndpointSlice's record takes from it.</summary>
internal struct ObjectMeta
{
    /// <summary>Set by the caller: only watch events need an object's resourceVersion.</summary>
    public bool WantResourceVersion;
    /// <summary>Set by the caller: read the service-name label and the trigger-time annotation.</summary>
    public bool WantSliceFields;
    public string? Name, Namespace, ResourceVersion, ServiceName, TriggerTime;

    /// <summary>The store key: namespace/name, or the name of a cluster-scoped object.</summary>
    public readonly string Key => Namespace is { Length: > 0 } ns ? ns + "/" + RequiredName : RequiredName;

    public readonly string RequiredName => Name ?? throw new JsonException("an object without metadata.name");

    /// <summary>Reads the metadata object the reader is on; the rest of it is skipped.</summary>
    public void Read(ref Utf8JsonReader reader, StringPool strings)
    {
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "metadata")) return;
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("name"u8))
            {
                JsonRead.Next(ref reader);
                Name = JsonRead.String(ref reader, "metadata.name");
            }
            else if (reader.ValueTextEquals("namespace"u8))
            {
                JsonRead.Next(ref reader);
                Namespace = strings.GetOrNull(ref reader, "metadata.namespace");
            }
            else if (WantResourceVersion && reader.ValueTextEquals("resourceVersion"u8))
            {
                JsonRead.Next(ref reader);
                ResourceVersion = JsonRead.String(ref reader, "metadata.resourceVersion");
            }
            else if (WantSliceFields && reader.ValueTextEquals("labels"u8))
            {
                JsonRead.Next(ref reader);
                ServiceName = ReadOne(ref reader, "metadata.labels", "kubernetes.io/service-name"u8) ?? ServiceName;
            }
            else if (WantSliceFields && reader.ValueTextEquals("annotations"u8))
            {
                JsonRead.Next(ref reader);
                TriggerTime = ReadOne(ref reader, "metadata.annotations", "endpoints.kubernetes.io/last-change-trigger-time"u8) ?? TriggerTime;
            }
            else
            {
                reader.Skip();
            }
        }
    }

    /// <summary>The value of one key of a string map; the others are skipped without becoming strings.</summary>
    private static string? ReadOne(ref Utf8JsonReader reader, string field, ReadOnlySpan<byte> key)
    {
        string? value = null;
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, field)) return null;
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(key))
            {
                JsonRead.Next(ref reader);
                value = JsonRead.String(ref reader, field);
            }
            else
            {
                reader.Skip();
            }
        }
        return value;
    }
}

/// <summary>Reads one kind of API object straight into its compact record, never building the model object.</summary>
internal abstract class ApiObjectReader<TRecord> where TRecord : class
{
    /// <summary>Namespaces and port names, shared by every record this reader makes.</summary>
    protected StringPool Strings { get; } = new();

    /// <summary>Port lists, shared by every record with the same ones (most Services of a cluster have one of a few).</summary>
    protected PortSetPool PortSets { get; } = new();

    /// <summary>Reads the object the reader is on (its start) to its end, filling <paramref name="meta"/>; null when the object serves no answer.</summary>
    public abstract TRecord? Read(ref Utf8JsonReader reader, ref ObjectMeta meta);

    /// <summary>Only the metadata (a deletion, a bookmark): the rest of the object is skipped.</summary>
    public void ReadMetadata(ref Utf8JsonReader reader, ref ObjectMeta meta)
    {
        if (!JsonRead.Enter(ref reader, JsonTokenType.StartObject, "object")) return;
        while (JsonRead.Next(ref reader) == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("metadata"u8))
            {
                JsonRead.Next(ref reader);
                meta.Read(ref reader, Strings);
            }
            else
            {
                reader.Skip();
            }
        }
    }
}
