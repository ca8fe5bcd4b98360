using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace ClusterDns.Kubernetes.Records;

/// <summary>Compares lower-case wire names as byte arrays, and looks them up by span so a query allocates nothing.</summary>
public sealed class WireNameComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly WireNameComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));
    public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
    public int GetHashCode(ReadOnlySpan<byte> alternate)
    {
        var hash = new HashCode();
        hash.AddBytes(alternate);
        return hash.ToHashCode();
    }
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}

/// <summary>The records of one type at one name, ready to copy into a response (owners point at the question).</summary>
public sealed class RecordSet(ushort type, byte[] answer, int count, byte[] additional, int additionalCount)
{
    public ushort Type { get; } = type;
    public byte[] Answer { get; } = answer;
    public int Count { get; } = count;
    public byte[] Additional { get; } = additional;
    public int AdditionalCount { get; } = additionalCount;
}

/// <summary>Everything a name answers, immutable once published; an entry with no sets is a name that exists without data.</summary>
public sealed class NameEntry(RecordSet[] sets)
{
    public static readonly NameEntry Empty = new([]);

    public RecordSet[] Sets { get; } = sets;

    public RecordSet? Find(ushort type)
    {
        foreach (var set in Sets)
        {
            if (set.Type == type) return set;
        }
        return null;
    }
}

/// <summary>
/// One name, shared by readers and the writer: the published entry (null while the name does not exist), and the
/// writer's own bookkeeping (what each owner contributes, how many contributed names lie below).
/// </summary>
public sealed class NameNode
{
    private NameEntry? _entry;

    internal NameNode(byte[] name) => Name = name;

    internal byte[] Name { get; }

    public NameEntry? Entry => Volatile.Read(ref _entry);

    internal void Publish(NameEntry? entry) => Volatile.Write(ref _entry, entry);

    // Writer only.
    internal List<RecordPart>? Parts;
    internal int Below;
    internal bool Touched;
}

/// <summary>
/// The names: lower-case wire name to its <see cref="NameNode"/>. Readers look up by span with no lock
/// (ConcurrentDictionary reads are lock-free) and read the node's immutable entry; the single writer replaces one
/// name's entry at a time, so a change touches only the names it affects and a name goes from its old answer
/// straight to its new one.
/// </summary>
public sealed class NameIndex
{
    private readonly ConcurrentDictionary<byte[], NameNode> _nodes = new(WireNameComparer.Instance);
    private readonly ConcurrentDictionary<byte[], NameNode>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    public NameIndex() => _lookup = _nodes.GetAlternateLookup<ReadOnlySpan<byte>>();

    public bool TryGet(ReadOnlySpan<byte> name, out NameEntry entry)
    {
        entry = null!;
        if (!_lookup.TryGetValue(name, out var node)) return false;
        entry = node.Entry!;
        return entry is not null;
    }

    internal int NodeCount => _nodes.Count;

    internal NameNode GetOrAdd(ReadOnlySpan<byte> name)
    {
        if (_lookup.TryGetValue(name, out var node)) return node;
        node = new NameNode(name.ToArray());
        _nodes[node.Name] = node;
        return node;
    }

    internal bool TryGetNode(ReadOnlySpan<byte> name, out NameNode node) => _lookup.TryGetValue(name, out node!);

    internal void Remove(NameNode node)
    {
        node.Publish(null);
        _nodes.TryRemove(node.Name, out _);
    }
}

/// <summary>One owner's share of a name: a record (type 0: only that the name exists) and what goes with it in additional.</summary>
public sealed record RecordPart(object Owner, ushort Type, byte[] Record, byte[]? Additional = null, int AdditionalCount = 0);

/// <summary>
/// The writer's side of the index: which owner (Service, Pod, the zone itself) contributes what to which name, and how
/// many contributed names lie below each name (empty non-terminals answer NODATA, not NXDOMAIN). Single-threaded.
/// </summary>
public sealed class NameIndexWriter
{
    private readonly NameIndex _index;
    private readonly byte[][] _zones;
    private readonly Dictionary<object, List<NameNode>> _owned = new(ReferenceEqualityComparer.Instance);
    private List<NameNode> _touched = [];

    public NameIndexWriter(NameIndex index, IReadOnlyList<byte[]> zones)
    {
        _index = index;
        _zones = [.. zones];
    }

    public int NameCount => _index.NodeCount;

    /// <summary>Replaces everything <paramref name="owner"/> contributes with <paramref name="parts"/> (empty: remove the owner).</summary>
    public void SetOwner(object owner, List<(byte[] Name, RecordPart Part)> parts)
    {
        if (_owned.Remove(owner, out var oldNodes))
        {
            foreach (var node in oldNodes)
            {
                if (node.Parts is null) continue;
                var before = node.Parts.Count;
                node.Parts.RemoveAll(part => ReferenceEquals(part.Owner, owner));
                if (node.Parts.Count == before) continue;
                Touch(node);
                if (node.Parts.Count == 0)
                {
                    node.Parts = null;
                    AdjustAncestors(node.Name, -1);
                }
            }
        }
        if (parts.Count == 0) return;
        var nodes = new List<NameNode>(parts.Count);
        foreach (var (name, part) in parts)
        {
            var node = _index.GetOrAdd(name);
            if (node.Parts is null)
            {
                node.Parts = [];
                AdjustAncestors(node.Name, +1);
            }
            node.Parts.Add(part);
            Touch(node);
            if (nodes.Count == 0 || !ReferenceEquals(nodes[^1], node)) nodes.Add(node);
        }
        _owned[owner] = nodes;
    }

    /// <summary>Publishes every name changed since the last call; returns how many.</summary>
    public int Publish()
    {
        var count = _touched.Count;
        foreach (var node in _touched)
        {
            node.Touched = false;
            if (node.Parts is { Count: > 0 } parts) node.Publish(BuildEntry(parts));
            else if (node.Below > 0) node.Publish(NameEntry.Empty);
            else _index.Remove(node);
        }
        // The first sync touches every name; keep no list that size for the small changes that follow.
        if (_touched.Count > 1024) _touched = [];
        else _touched.Clear();
        return count;
    }

    private void Touch(NameNode node)
    {
        if (node.Touched) return;
        node.Touched = true;
        _touched.Add(node);
    }

    /// <summary>Counts a name in or out of every ancestor below its zone (the apex is answered by the zone itself).</summary>
    private void AdjustAncestors(byte[] name, int delta)
    {
        var zone = ZoneOf(name);
        if (zone < 0) return;
        var position = 1 + name[0];
        while (name.Length - position > zone)
        {
            var node = _index.GetOrAdd(name.AsSpan(position));
            var wasEmpty = node.Below == 0;
            node.Below += delta;
            if (node.Parts is null && (wasEmpty || node.Below == 0)) Touch(node);
            position += 1 + name[position];
        }
    }
    private int ZoneOf(byte[] name)
    {
        var best = -1;
        foreach (var zone in _zones)
        {
            if (zone.Length > best && Server.Wire.DnsName.IsSubdomain(name, zone)) best = zone.Length;
        }
        return best;
    }

    private static NameEntry BuildEntry(List<RecordPart> parts)
    {
        var types = new List<ushort>(2);
        foreach (var part in parts)
        {
            if (part.Type != 0 && !types.Contains(part.Type)) types.Add(part.Type);
        }
        if (types.Count == 0) return NameEntry.Empty;
        if (parts.Count == 1)
        {
            // The common case (one record at a name): publish the part's own bytes, no copy.
            var only = parts[0];
            return new NameEntry([new RecordSet(only.Type, only.Record, 1, only.Additional ?? [], only.Additional is null ? 0 : only.AdditionalCount)]);
        }
        var sets = new RecordSet[types.Count];
        for (var t = 0; t < types.Count; t++)
        {
            var seen = new HashSet<byte[]>(WireNameComparer.Instance);
            var seenAdditional = new HashSet<byte[]>(WireNameComparer.Instance);
            using var answer = new MemoryStream();
            using var additional = new MemoryStream();
            int count = 0, additionalCount = 0;
            foreach (var part in parts)
            {
                if (part.Type != types[t] || !seen.Add(part.Record)) continue;
                answer.Write(part.Record);
                count++;
                if (part.Additional is { } extra && seenAdditional.Add(extra))
                {
                    additional.Write(extra);
                    additionalCount += part.AdditionalCount;
                }
            }
            sets[t] = new RecordSet(types[t], answer.ToArray(), count, additional.ToArray(), additionalCount);
        }
        return new NameEntry(sets);
    }
}
