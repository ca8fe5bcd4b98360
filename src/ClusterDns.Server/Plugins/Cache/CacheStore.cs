using System.Collections.Concurrent;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Server.Plugins.Cache;

/// <summary>Byte-string keys compared by content, with lookups by span so a cache read builds no key object.</summary>
public sealed class ByteKeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteKeyComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));
    public int GetHashCode(byte[] obj) => Hash(obj);
    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
    public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);
    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }
}

/// <summary>
/// One cached response, kept as the wire bytes to send (OPT removed) with the offsets of every record's TTL, so a
/// hit is a copy plus a few 32-bit writes.
/// </summary>
public sealed class CacheEntry
{
    public required byte[] Message { get; init; }
    public required int[] TtlOffsets { get; init; }
    public required long StoredAt { get; init; }
    /// <summary>Lifetime in seconds, after the TTL bounds were applied.</summary>
    public required int Ttl { get; init; }
    public required int Rcode { get; init; }
    public required bool Denial { get; init; }
    /// <summary>The live-data plugin covering this name, and its version when the answer was produced.</summary>
    public IZoneDataVersion? Source { get; init; }
    public long SourceVersion { get; init; }

    private long _windowStart;
    private int _hits;
    private int _refreshing;

    /// <summary>Counts a hit in the current frequency window (prefetch); returns the hits of the window.</summary>
    public int RecordHit(long now, long windowTicks)
    {
        var start = Volatile.Read(ref _windowStart);
        if (now - start > windowTicks)
        {
            Volatile.Write(ref _windowStart, now);
            Volatile.Write(ref _hits, 0);
        }
        return Interlocked.Increment(ref _hits);
    }

    public bool TryStartRefresh() => Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0;
    public void EndRefresh() => Volatile.Write(ref _refreshing, 0);

    public bool IsCurrent => Source is null || Source.Version == SourceVersion;
}

/// <summary>
/// One of the two stores (success, denial): a bounded map with lock-free reads. When full, an insert evicts an
/// arbitrary entry (the map's hash order), as CoreDNS's cache evicts at random.
/// </summary>
public sealed class CacheStore
{
    private readonly ConcurrentDictionary<byte[], CacheEntry> _entries;
    private readonly ConcurrentDictionary<byte[], CacheEntry>.AlternateLookup<ReadOnlySpan<byte>> _lookup;
    private int _count;

    public CacheStore(int capacity)
    {
        Capacity = capacity;
        _entries = new ConcurrentDictionary<byte[], CacheEntry>(ByteKeyComparer.Instance);
        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public int Capacity { get; }
    public int Count => Volatile.Read(ref _count);

    public bool TryGet(ReadOnlySpan<byte> key, out CacheEntry entry) => _lookup.TryGetValue(key, out entry!);

    /// <summary>Adds or replaces; returns how many entries were evicted to make room.</summary>
    public int Set(ReadOnlySpan<byte> key, CacheEntry entry)
    {
        if (_lookup.TryGetValue(key, out _))
        {
            _lookup[key] = entry;
            return 0;
        }
        var evicted = 0;
        while (Volatile.Read(ref _count) >= Capacity && EvictOne()) evicted++;
        if (_lookup.TryAdd(key, entry)) Interlocked.Increment(ref _count);
        else _lookup[key] = entry;
        return evicted;
    }

    public void Remove(ReadOnlySpan<byte> key)
    {
        if (_lookup.TryRemove(key, out _, out _)) Interlocked.Decrement(ref _count);
    }

    private bool EvictOne()
    {
        foreach (var pair in _entries)
        {
            if (_entries.TryRemove(pair.Key, out _))
            {
                Interlocked.Decrement(ref _count);
                return true;
            }
        }
        return false;
    }
}
