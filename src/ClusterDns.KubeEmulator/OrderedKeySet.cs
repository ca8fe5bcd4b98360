namespace ClusterDns.KubeEmulator;

/// <summary>
/// The keys of one resource in ordinal order, as etcd's key space. A list page has to start after the continue
/// token's key and say how many keys follow it; a SortedSet view walks (and counts) its whole range for that, which
/// made paging 100,000 pods quadratic. Here the keys sit in sorted blocks of at most <see cref="BlockCapacity"/>:
/// a seek is two binary searches, the rank of a position adds up the block sizes before it (n/64 additions at
/// most), and an insert moves at most one block (a 512-key block made that memmove 5% of the load's CPU). Not thread-safe: the store's lock guards it.
/// </summary>
internal sealed class OrderedKeySet
{
    internal const int BlockCapacity = 128;

    private readonly List<List<string>> _blocks = [];
    private int _version;

    public int Count { get; private set; }

    /// <summary>Adds the key; false if it is already there.</summary>
    public bool Add(string key)
    {
        if (_blocks.Count == 0)
        {
            _blocks.Add(new List<string>(BlockCapacity) { key });
            Count = 1;
            _version++;
            return true;
        }
        // A key beyond every block's last key goes to the end of the last block.
        int b = Math.Min(BlockFor(key), _blocks.Count - 1);
        var block = _blocks[b];
        int i = block.BinarySearch(key, StringComparer.Ordinal);
        if (i >= 0) return false;
        block.Insert(~i, key);
        if (block.Count > BlockCapacity)
        {
            int half = block.Count / 2;
            var upper = new List<string>(BlockCapacity);
            upper.AddRange(block.GetRange(half, block.Count - half));
            block.RemoveRange(half, block.Count - half);
            _blocks.Insert(b + 1, upper);
        }
        Count++;
        _version++;
        return true;
    }

    /// <summary>Removes the key; false if it was not there.</summary>
    public bool Remove(string key)
    {
        int b = BlockFor(key);
        if (b == _blocks.Count) return false;
        var block = _blocks[b];
        int i = block.BinarySearch(key, StringComparer.Ordinal);
        if (i < 0) return false;
        block.RemoveAt(i);
        if (block.Count == 0) _blocks.RemoveAt(b);
        Count--;
        _version++;
        return true;
    }

    /// <summary>How many keys k satisfy lower &lt;= k &lt; upper (no upper bound when <paramref name="upperExclusive"/> is null).</summary>
    public int CountBetween(string lowerInclusive, string? upperExclusive)
    {
        int end = upperExclusive is null ? Count : Rank(Seek(upperExclusive));
        return Math.Max(0, end - Rank(Seek(lowerInclusive)));
    }

    /// <summary>The keys k with lower &lt;= k &lt; upper in order, found by a seek rather than a walk from the start.
    /// The set must not change while this is enumerated.</summary>
    public IEnumerable<string> Between(string lowerInclusive, string? upperExclusive)
    {
        var (b, i) = Seek(lowerInclusive);
        int version = _version;
        for (; b < _blocks.Count; b++, i = 0)
        {
            var block = _blocks[b];
            for (; i < block.Count; i++)
            {
                if (version != _version) throw new InvalidOperationException("the key set changed during enumeration");
                var key = block[i];
                if (upperExclusive is not null && string.CompareOrdinal(key, upperExclusive) >= 0) yield break;
                yield return key;
            }
        }
    }

    /// <summary>The position of the first key &gt;= <paramref name="key"/>: (block count, 0) when there is none.</summary>
    private (int Block, int Index) Seek(string key)
    {
        int b = BlockFor(key);
        if (b == _blocks.Count) return (b, 0);
        int i = _blocks[b].BinarySearch(key, StringComparer.Ordinal);
        return (b, i >= 0 ? i : ~i);
    }

    private int Rank((int Block, int Index) position)
    {
        int rank = position.Index;
        for (int b = 0; b < position.Block; b++) rank += _blocks[b].Count;
        return rank;
    }

    /// <summary>The first block whose last key is &gt;= <paramref name="key"/>, or the block count when none is.</summary>
    private int BlockFor(string key)
    {
        int lo = 0, hi = _blocks.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            var block = _blocks[mid];
            if (string.CompareOrdinal(block[^1], key) < 0) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
