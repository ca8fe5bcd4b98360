using ClusterDns.KubeEmulator;

namespace ClusterDns.Tests.KubeEmulator;

/// <summary>The emulator's key index against SortedSet as the reference, across block splits and removals.</summary>
public sealed class OrderedKeySetTests
{
    [Fact]
    public void RandomAddsAndRemoves_KeepTheSameOrderRangesAndCountsAsASortedSet()
    {
        var random = new Random(12345);
        var keys = new OrderedKeySet();
        var reference = new SortedSet<string>(StringComparer.Ordinal);
        for (int step = 0; step < 20_000; step++)
        {
            var key = $"ns-{random.Next(20)}/pod-{random.Next(400)}";
            if (random.Next(4) == 0) Assert.Equal(reference.Remove(key), keys.Remove(key));
            else Assert.Equal(reference.Add(key), keys.Add(key));
        }
        Assert.True(reference.Count > 3 * OrderedKeySet.BlockCapacity, "the keys must span several blocks");
        Assert.Equal(reference.Count, keys.Count);
        Assert.Equal(reference, keys.Between("", null));

        for (int probe = 0; probe < 200; probe++)
        {
            var lower = $"ns-{random.Next(22)}/pod-{random.Next(400)}";
            var upper = random.Next(3) == 0 ? null : $"ns-{random.Next(22)}";
            var expected = reference.Where(k => string.CompareOrdinal(k, lower) >= 0 && (upper is null || string.CompareOrdinal(k, upper) < 0)).ToList();
            Assert.Equal(expected, keys.Between(lower, upper));
            Assert.Equal(expected.Count, keys.CountBetween(lower, upper));
        }
    }

    [Fact]
    public void RemovingEveryKey_LeavesAnEmptySetThatAcceptsKeysAgain()
    {
        var keys = new OrderedKeySet();
        for (int i = 0; i < 2000; i++) Assert.True(keys.Add($"k{i:D5}"));
        for (int i = 0; i < 2000; i++) Assert.True(keys.Remove($"k{i:D5}"));
        Assert.Equal(0, keys.Count);
        Assert.Empty(keys.Between("", null));
        Assert.Equal(0, keys.CountBetween("", null));
        Assert.False(keys.Remove("k00000"));
        Assert.True(keys.Add("b"));
        Assert.True(keys.Add("a"));
        Assert.False(keys.Add("a"));
        Assert.Equal(["a", "b"], keys.Between("", null));
        Assert.Equal(["b"], keys.Between("a\0", null));
        Assert.Equal(1, keys.CountBetween("a", "b"));
    }

    [Fact]
    public void ChangingTheSetWhileEnumerating_Throws()
    {
        var keys = new OrderedKeySet();
        keys.Add("a");
        keys.Add("b");
        Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var k in keys.Between("", null)) keys.Add(k + "x");
        });
    }
}
