using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace ClusterDns.KubeEmulator;

/// <summary>One stored object: its identity, the resourceVersion of its last write and its serialized JSON.
/// Immutable; every write replaces the instance, so readers never need a lock once they hold one.</summary>
internal sealed class StoredObject(string ns, string name, long resourceVersion, byte[] json, IReadOnlyDictionary<string, string>? labels)
{
    public string Namespace { get; } = ns;
    public string Name { get; } = name;
    public long ResourceVersion { get; } = resourceVersion;
    public byte[] Json { get; } = json;
    public IReadOnlyDictionary<string, string>? Labels { get; } = labels;

    public JsonObject ToNode() => (JsonObject)JsonNode.Parse(Json)!;
}

internal enum WatchEventKind
{
    Added,
    Modified,
    Deleted,
}

/// <summary>One change in the global history: what the watch cache of kube-apiserver keeps to resume watches.</summary>
internal sealed record WatchEvent(long ResourceVersion, ResourceType Type, WatchEventKind Kind, StoredObject Object, StoredObject? Old);

/// <summary>One line of a watch stream: the event type and the object's JSON.</summary>
internal readonly record struct WatchMessage(string Type, byte[] Object);

/// <summary>A watch registered with the store; events arrive on <see cref="Reader"/> in resourceVersion order.</summary>
internal sealed class WatchSubscription : IDisposable
{
    private readonly ClusterStore _store;
    private readonly Channel<WatchMessage> _channel = Channel.CreateUnbounded<WatchMessage>(new UnboundedChannelOptions { SingleReader = true });

    internal WatchSubscription(ClusterStore store, ResourceType type, string? ns, ObjectFilter? filter)
    {
        _store = store;
        Type = type;
        Namespace = ns;
        Filter = filter;
    }

    public ResourceType Type { get; }
    public string? Namespace { get; }
    public ObjectFilter? Filter { get; }
    public ChannelReader<WatchMessage> Reader => _channel.Reader;

    internal void Post(WatchMessage message) => _channel.Writer.TryWrite(message);

    internal bool Sees(StoredObject obj) =>
        (Namespace is null || Namespace == obj.Namespace) && (Filter is null || Filter.Matches(obj));

    /// <summary>Sends the event as this watcher sees it: a change that moves an object into or out of the selector
    /// becomes ADDED or DELETED, as kube-apiserver's watch cache does.</summary>
    internal void Deliver(WatchEvent e)
    {
        if (e.Type != Type) return;
        switch (e.Kind)
        {
            case WatchEventKind.Added:
                if (Sees(e.Object)) Post(new("ADDED", e.Object.Json));
                break;
            case WatchEventKind.Deleted:
                if (Sees(e.Object)) Post(new("DELETED", e.Object.Json));
                break;
            default:
                bool now = Sees(e.Object);
                bool before = e.Old is not null && Sees(e.Old);
                if (now && before) Post(new("MODIFIED", e.Object.Json));
                else if (now) Post(new("ADDED", e.Object.Json));
                else if (before) Post(new("DELETED", e.Object.Json));
                break;
        }
    }

    internal void Complete() => _channel.Writer.TryComplete();

    public void Dispose() => _store.Unsubscribe(this);
}
