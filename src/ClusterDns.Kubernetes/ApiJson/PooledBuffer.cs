using System.Buffers;

namespace ClusterDns.Kubernetes.ApiJson;

/// <summary>
/// A growable window of bytes rented from a pool: the body of one list page, or the unread part of a watch
/// stream cut into lines. One per list or watch, reused across its pages and events.
/// </summary>
internal sealed class PooledBuffer : IDisposable
{
    private readonly ArrayPool<byte> _pool;
    private byte[] _array;
    private int _start, _end;
    /// <summary>How far the search for a newline got, so a long line is not searched again on every read.</summary>
    private int _scanned;

    public PooledBuffer(int initialSize) : this(initialSize, ArrayPool<byte>.Shared)
    {
    }

    public PooledBuffer(int initialSize, ArrayPool<byte> pool)
    {
        _pool = pool;
        _array = pool.Rent(initialSize);
    }

    public ReadOnlySpan<byte> Data => _array.AsSpan(_start, _end - _start);

    public void Clear() => _start = _end = _scanned = 0;

    /// <summary>At least <paramref name="minimum"/> free bytes after the data: moves the data to the front, or grows.</summary>
    public Memory<byte> GetFreeMemory(int minimum)
    {
        if (_array.Length - _end >= minimum) return _array.AsMemory(_end);
        var length = _end - _start;
        // Grow rather than move when the data fills half the array: a line longer than that is still arriving.
        if (_array.Length - length < minimum || length > _array.Length / 2)
        {
            var grown = _pool.Rent(Math.Max(_array.Length * 2, length + minimum));
            _array.AsSpan(_start, length).CopyTo(grown);
            _pool.Return(_array);
            _array = grown;
        }
        else
        {
            _array.AsSpan(_start, length).CopyTo(_array);
        }
        _scanned -= _start;
        _start = 0;
        _end = length;
        return _array.AsMemory(_end);
    }

    public void Advance(int count) => _end += count;

    /// <summary>The next complete line (without its newline), if one has arrived.</summary>
    public bool TryTakeLine(out ReadOnlySpan<byte> line)
    {
        var index = _array.AsSpan(_scanned, _end - _scanned).IndexOf((byte)'\n');
        if (index < 0)
        {
            _scanned = _end;
            line = default;
            return false;
        }
        var lineEnd = _scanned + index;
        line = _array.AsSpan(_start, lineEnd - _start);
        _start = _scanned = lineEnd + 1;
        return true;
    }

    /// <summary>What follows the last newline: the last line of a stream that ended without one.</summary>
    public ReadOnlySpan<byte> TakeRest()
    {
        var rest = Data;
        _start = _scanned = _end;
        return rest;
    }

    public void Dispose()
    {
        _pool.Return(_array);
        _array = [];
        Clear();
    }
}
