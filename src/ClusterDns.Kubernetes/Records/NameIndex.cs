using System.Buffers.Binary;
using System.Collections.Concurrent;

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
public readonly ref struct AnswerSet(ReadOnlySpan<byte> answer, int count, ReadOnlySpan<byte> additional, int additionalCount)
{
    public readonly ReadOnlySpan<byte> Answer = answer;
    public readonly int Count = count;
    public readonly ReadOnlySpan<byte> Additional = additional;
    public readonly int AdditionalCount = additionalCount;
}

/// <summary>
/// Everything a name answers in one array (one object per name, not an entry, a set array and two arrays per set):
/// per type, the set's length, its type (two bytes), record count, answer length and additional count as varints,
/// then the answer records and the additional records. An empty array is a name that exists without data.
/// </summary>
public static class PackedAnswers
{
    public static bool TryFind(ReadOnlySpan<byte> packed, ushort type, out AnswerSet set)
    {
        var position = 0;
        while (position < packed.Length)
        {
            var end = ReadVarint(packed, ref position);
            end += position;
            if (BinaryPrimitives.ReadUInt16BigEndian(packed[position..]) == type)
            {
                position += 2;
                var count = ReadVarint(packed, ref position);
                var answerLength = ReadVarint(packed, ref position);
                var additionalCount = ReadVarint(packed, ref position);
                set = new AnswerSet(packed.Slice(position, answerLength), count, packed[(position + answerLength)..end], additionalCount);
                return true;
            }
            position = end;
        }
        set = default;
        return false;
    }

    /// <summary>One set of one record, the common case, without a builder.</summary>
    internal static byte[] Single(ushort type, ReadOnlySpan<byte> record, ReadOnlySpan<byte> additional, int additionalCount)
    {
        var body = 2 + VarintLength(1) + VarintLength(record.Length) + VarintLength(additionalCount) + record.Length + additional.Length;
        var packed = new byte[VarintLength(body) + body];
        var position = WriteVarint(packed, 0, body);
        WriteSetHeader(packed, position, type, 1, record.Length, additionalCount, out position);
        record.CopyTo(packed.AsSpan(position));
        additional.CopyTo(packed.AsSpan(position + record.Length));
        return packed;
    }

    internal static int ReadVarint(ReadOnlySpan<byte> packed, ref int position)
    {
        var value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = packed[position++];
            value |= (b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }

    internal static int VarintLength(int value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }
        return length;
    }

    internal static int WriteVarint(Span<byte> destination, int position, int value)
    {
        while (value >= 0x80)
        {
            destination[position++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[position++] = (byte)value;
        return position;
    }

    internal static void WriteSetHeader(Span<byte> destination, int position, ushort type, int count, int answerLength, int additionalCount, out int end)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination[position..], type);
        position = WriteVarint(destination, position + 2, count);
        position = WriteVarint(destination, position, answerLength);
        end = WriteVarint(destination, position, additionalCount);
    }
}

/// <summary>Collects records type by type, dropping repeats, and packs them (build time only).</summary>
internal sealed class PackedAnswerBuilder
{
    private sealed class Set(ushort type)
    {
        public readonly ushort Type = type;
        public readonly MemoryStream Answer = new();
        public readonly MemoryStream Additional = new();
        public readonly HashSet<byte[]> Records = new(WireNameComparer.Instance);
        public readonly HashSet<byte[]> AdditionalBlocks = new(WireNameComparer.Instance);
        public int Count;
        public int AdditionalCount;
    }

    private readonly List<Set> _sets = [];

    /// <summary>Adds a record; its additional records go with it unless the record is there already.</summary>
    public void Add(ushort type, byte[] record, ReadOnlySpan<byte> additional, int additionalCount)
    {
        var set = SetOf(type);
        if (!set.Records.Add(record)) return;
        set.Answer.Write(record);
        set.Count++;
        if (additionalCount > 0 && set.AdditionalBlocks.Add(additional.ToArray()))
        {
            set.Additional.Write(additional);
            set.AdditionalCount += additionalCount;
        }
    }

    /// <summary>Adds every set of another packed array (another owner's share of the same name).</summary>
    public void AddPacked(ReadOnlySpan<byte> packed)
    {
        var position = 0;
        while (position < packed.Length)
        {
            var end = PackedAnswers.ReadVarint(packed, ref position);
            end += position;
            var type = BinaryPrimitives.ReadUInt16BigEndian(packed[position..]);
            position += 2;
            PackedAnswers.ReadVarint(packed, ref position);
            var answerLength = PackedAnswers.ReadVarint(packed, ref position);
            var additionalCount = PackedAnswers.ReadVarint(packed, ref position);
            var records = packed.Slice(position, answerLength);
            var additional = packed[(position + answerLength)..end];
            var first = true;
            while (records.Length > 0)
            {
                var nameEnd = Server.Wire.DnsName.Skip(records, 0);
                var length = nameEnd + 10 + BinaryPrimitives.ReadUInt16BigEndian(records[(nameEnd + 8)..]);
                // The share's additional records go with its first record, as one block.
                Add(type, records[..length].ToArray(), first ? additional : default, first ? additionalCount : 0);
                first = false;
                records = records[length..];
            }
            position = end;
        }
    }

    private Set SetOf(ushort type)
    {
        foreach (var set in _sets)
        {
            if (set.Type == type) return set;
        }
        var added = new Set(type);
        _sets.Add(added);
        return added;
    }

    public byte[] ToArray()
    {
        var total = 0;
        foreach (var set in _sets) total += SetLength(set, out _);
        if (total == 0) return [];
        var packed = new byte[total];
        var position = 0;
        foreach (var set in _sets)
        {
            SetLength(set, out var body);
            position = PackedAnswers.WriteVarint(packed, position, body);
            PackedAnswers.WriteSetHeader(packed, position, set.Type, set.Count, (int)set.Answer.Length, set.AdditionalCount, out position);
            set.Answer.GetBuffer().AsSpan(0, (int)set.Answer.Length).CopyTo(packed.AsSpan(position));
            position += (int)set.Answer.Length;
            set.Additional.GetBuffer().AsSpan(0, (int)set.Additional.Length).CopyTo(packed.AsSpan(position));
            position += (int)set.Additional.Length;
        }
        return packed;
    }

    private static int SetLength(Set set, out int body)
    {
        body = 2 + PackedAnswers.VarintLength(set.Count) + PackedAnswers.VarintLength((int)set.Answer.Length)
            + PackedAnswers.VarintLength(set.AdditionalCount) + (int)set.Answer.Length + (int)set.Additional.Length;
        return PackedAnswers.VarintLength(body) + body;
    }
}

/// <summary>
/// One name, shared by readers and the writer: its first label and its parent (a zone apex, or a name outside every
/// zone, holds its whole wire name and no parent), the published answers (null while the name does not exist), and
/// the writer's own bookkeeping: who contributes (nobody, one owner whose share is <see cref="Share"/>, or several
/// <see cref="OwnerShare"/>s) and how many contributed names lie below.
/// </summary>
public sealed class NameNode
{
    private byte[]? _answers;

    internal NameNode(byte[] label, NameNode? parent, int hash)
    {
        Label = label;
        Parent = parent;
        Hash = hash;
    }

    internal byte[] Label { get; }

    internal NameNode? Parent { get; }

    internal int Hash { get; }

    public byte[]? Answers => Volatile.Read(ref _answers);

    internal void Publish(byte[]? answers) => Volatile.Write(ref _answers, answers);

    /// <summary>Whether this is the node of <paramref name="name"/>: label by label up the parents.</summary>
    internal bool Matches(ReadOnlySpan<byte> name)
    {
        var node = this;
        while (node.Parent is { } parent)
        {
            if (!name.StartsWith(node.Label)) return false;
            name = name[node.Label.Length..];
            node = parent;
        }
        return name.SequenceEqual(node.Label);
    }

    // Writer only.
    internal object? Owners;
    internal byte[]? Share;
    // Touched is the top bit of the count below, so a node is 64 bytes, not 72 (a hundred thousand of them at 10k Services).
    private int _belowAndTouched;

    internal int Below
    {
        get => _belowAndTouched & int.MaxValue;
        set => _belowAndTouched = (_belowAndTouched & int.MinValue) | value;
    }

    internal bool Touched
    {
        get => _belowAndTouched < 0;
        set => _belowAndTouched = value ? _belowAndTouched | int.MinValue : _belowAndTouched & int.MaxValue;
    }
}

/// <summary>One owner's packed share of a name that several owners contribute to (two Services' PTR for one IP).</summary>
internal sealed class OwnerShare(object owner, byte[] share)
{
    public object Owner { get; } = owner;
    public byte[] Share { get; set; } = share;
}

/// <summary>
/// The names: an open-addressing table (linear probing) of <see cref="NameNode"/>s by the hash of their lower-case
/// wire name. Readers take the current slot array and probe it with no lock; the single writer fills an empty slot
/// or marks a removed node's slot with one reference write, and grows or cleans the table by building a new array
/// and publishing it whole, so a reader sees either array complete. A name goes from its old answer straight to its
/// new one because its node's answers are replaced by one reference write.
/// </summary>
public sealed class NameIndex
{
    private const int MinimumCapacity = 1024;
    private static readonly NameNode Removed = new([], null, 0);

    private NameNode?[] _slots = new NameNode?[MinimumCapacity];
    private int _count;
    private int _used; // nodes and removed marks: probes end only at an empty slot

    /// <summary>The packed answers of a name that exists (see <see cref="PackedAnswers"/>).</summary>
    public bool TryGet(ReadOnlySpan<byte> name, out byte[] answers)
    {
        answers = Find(Volatile.Read(ref _slots), name, Hash(name))?.Answers!;
        return answers is not null;
    }

    internal int NodeCount => _count;

    internal static int Hash(ReadOnlySpan<byte> name)
    {
        var hash = new HashCode();
        hash.AddBytes(name);
        return hash.ToHashCode();
    }

    internal NameNode? Find(ReadOnlySpan<byte> name, int hash) => Find(_slots, name, hash);

    private static NameNode? Find(NameNode?[] slots, ReadOnlySpan<byte> name, int hash)
    {
        var mask = slots.Length - 1;
        for (var i = hash & mask; ; i = (i + 1) & mask)
        {
            var node = Volatile.Read(ref slots[i]);
            if (node is null) return null;
            if (node.Hash == hash && !ReferenceEquals(node, Removed) && node.Matches(name)) return node;
        }
    }

    /// <summary>Adds a node whose name is not in the table.</summary>
    internal void Add(NameNode node)
    {
        if ((_used + 1) * 10 > _slots.Length * 7) Rebuild();
        var slots = _slots;
        var mask = slots.Length - 1;
        var i = node.Hash & mask;
        while (slots[i] is { } taken && !ReferenceEquals(taken, Removed)) i = (i + 1) & mask;
        if (slots[i] is null) _used++;
        Volatile.Write(ref slots[i], node);
        _count++;
    }

    internal void Remove(NameNode node)
    {
        node.Publish(null);
        var slots = _slots;
        var mask = slots.Length - 1;
        for (var i = node.Hash & mask; slots[i] is { } candidate; i = (i + 1) & mask)
        {
            if (!ReferenceEquals(candidate, node)) continue;
            Volatile.Write(ref slots[i], Removed);
            _count--;
            return;
        }
    }

    /// <summary>A new array, at most half full, without the removed marks; readers still probing the old one finish there.</summary>
    private void Rebuild()
    {
        var capacity = MinimumCapacity;
        while (capacity < (_count + 1) * 2) capacity *= 2;
        var slots = new NameNode?[capacity];
        var mask = capacity - 1;
        foreach (var node in _slots)
        {
            if (node is null || ReferenceEquals(node, Removed)) continue;
            var i = node.Hash & mask;
            while (slots[i] is not null) i = (i + 1) & mask;
            slots[i] = node;
        }
        _used = _count;
        Volatile.Write(ref _slots, slots);
    }
}

/// <summary>What contributes names (a Service, a Pod, a namespace, the zone itself), and the names it last contributed.</summary>
public sealed class NameOwner
{
    internal NameNode[] Names = [];
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
    private readonly Dictionary<NameNode, List<RecordPart>> _grouped = [];
    // Short labels (address octets and nibbles of reverse names, _tcp, _udp) repeat across thousands of names: one array each.
    private readonly Dictionary<byte[], byte[]> _shortLabels = new(WireNameComparer.Instance);
    private readonly List<NameNode> _order = [];
    private List<NameNode> _touched = [];

    public NameIndexWriter(NameIndex index, IReadOnlyList<byte[]> zones)
    {
        _index = index;
        _zones = [.. zones];
    }

    public int NameCount => _index.NodeCount;

    /// <summary>Replaces everything <paramref name="owner"/> contributes with <paramref name="parts"/> (empty: remove the owner).</summary>
    public void SetOwner(NameOwner owner, List<(byte[] Name, RecordPart Part)> parts)
    {
        _grouped.Clear();
        _order.Clear();
        foreach (var (name, part) in parts)
        {
            var node = GetOrAdd(name);
            if (!_grouped.TryGetValue(node, out var list))
            {
                _grouped[node] = list = [];
                _order.Add(node);
            }
            list.Add(part);
        }
        foreach (var node in owner.Names)
        {
            if (!_grouped.ContainsKey(node)) Leave(node, owner);
        }
        foreach (var node in _order) Join(node, owner, Pack(_grouped[node]));
        owner.Names = [.. _order];
    }

    /// <summary>Publishes every name changed since the last call; returns how many.</summary>
    public int Publish()
    {
        var count = _touched.Count;
        foreach (var node in _touched)
        {
            node.Touched = false;
            var answers = node.Owners switch
            {
                null => node.Below > 0 ? [] : null,
                OwnerShare[] shares => Merge(shares),
                _ => node.Share,
            };
            if (answers is null) _index.Remove(node);
            else node.Publish(answers);
        }
        // The first sync touches every name; keep no list that size for the small changes that follow.
        if (_touched.Count > 1024) _touched = [];
        else _touched.Clear();
        return count;
    }

    private void Join(NameNode node, object owner, byte[] share)
    {
        switch (node.Owners)
        {
            case null:
                node.Owners = owner;
                node.Share = share;
                AdjustAncestors(node, +1);
                break;
            case OwnerShare[] shares:
                var index = Array.FindIndex(shares, s => ReferenceEquals(s.Owner, owner));
                if (index < 0) node.Owners = (OwnerShare[])[.. shares, new OwnerShare(owner, share)];
                else if (shares[index].Share.AsSpan().SequenceEqual(share)) return;
                else shares[index].Share = share;
                break;
            default:
                if (ReferenceEquals(node.Owners, owner))
                {
                    if (node.Share.AsSpan().SequenceEqual(share)) return; // the same answers: nothing to publish
                    node.Share = share;
                }
                else
                {
                    node.Owners = new[] { new OwnerShare(node.Owners, node.Share!), new OwnerShare(owner, share) };
                    node.Share = null;
                }
                break;
        }
        Touch(node);
    }

    private void Leave(NameNode node, object owner)
    {
        if (node.Owners is OwnerShare[] shares)
        {
            var rest = Array.FindAll(shares, s => !ReferenceEquals(s.Owner, owner));
            if (rest.Length == shares.Length) return;
            if (rest.Length == 1)
            {
                node.Owners = rest[0].Owner;
                node.Share = rest[0].Share;
            }
            else
            {
                node.Owners = rest;
            }
        }
        else if (ReferenceEquals(node.Owners, owner))
        {
            node.Owners = null;
            node.Share = null;
            AdjustAncestors(node, -1);
        }
        else
        {
            return;
        }
        Touch(node);
    }

    private void Touch(NameNode node)
    {
        if (node.Touched) return;
        node.Touched = true;
        _touched.Add(node);
    }

    /// <summary>Counts a name in or out of every ancestor below its zone (the apex is answered by the zone itself).</summary>
    private void AdjustAncestors(NameNode node, int delta)
    {
        for (var ancestor = node.Parent; ancestor?.Parent is not null; ancestor = ancestor.Parent)
        {
            var wasEmpty = ancestor.Below == 0;
            ancestor.Below += delta;
            if (ancestor.Owners is null && (wasEmpty || ancestor.Below == 0)) Touch(ancestor);
        }
    }

    /// <summary>The node of a name, made (with its parents up to the zone apex) when missing.</summary>
    private NameNode GetOrAdd(ReadOnlySpan<byte> name)
    {
        var hash = NameIndex.Hash(name);
        if (_index.Find(name, hash) is { } found) return found;
        NameNode node;
        var zone = ZoneOf(name);
        if (zone >= 0 && name.Length > zone)
        {
            var labelLength = 1 + name[0];
            node = new NameNode(Label(name[..labelLength]), GetOrAdd(name[labelLength..]), hash);
        }
        else
        {
            node = new NameNode(name.ToArray(), null, hash);
        }
        _index.Add(node);
        return node;
    }

    private byte[] Label(ReadOnlySpan<byte> label)
    {
        if (label.Length > 5) return label.ToArray();
        var lookup = _shortLabels.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (!lookup.TryGetValue(label, out var shared)) lookup[label] = shared = label.ToArray();
        return shared;
    }

    private int ZoneOf(ReadOnlySpan<byte> name)
    {
        var best = -1;
        foreach (var zone in _zones)
        {
            if (zone.Length > best && Server.Wire.DnsName.IsSubdomain(name, zone)) best = zone.Length;
        }
        return best;
    }

    /// <summary>One owner's parts at one name, packed.</summary>
    private static byte[] Pack(List<RecordPart> parts)
    {
        if (parts.Count == 1)
        {
            var only = parts[0];
            return only.Type == 0 ? [] : PackedAnswers.Single(only.Type, only.Record, only.Additional, only.Additional is null ? 0 : only.AdditionalCount);
        }
        var builder = new PackedAnswerBuilder();
        foreach (var part in parts)
        {
            if (part.Type != 0) builder.Add(part.Type, part.Record, part.Additional, part.Additional is null ? 0 : part.AdditionalCount);
        }
        return builder.ToArray();
    }

    private static byte[] Merge(OwnerShare[] shares)
    {
        var builder = new PackedAnswerBuilder();
        foreach (var share in shares) builder.AddPacked(share.Share);
        return builder.ToArray();
    }
}
