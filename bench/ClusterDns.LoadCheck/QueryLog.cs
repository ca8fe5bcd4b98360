using System.Globalization;

namespace ClusterDns.LoadCheck;

internal enum QueryStatus : byte { Pending, Correct, Wrong, Late }

/// <summary>What happened to every query sent: when (ms since start), which expectation, and its outcome.</summary>
internal sealed class QueryLog
{
    private readonly List<string> _wrongSamples = [];
    private int _wrongSeen;

    public QueryLog(int capacity)
    {
        SentMs = new double[capacity];
        Expectation = new int[capacity];
        Status = new QueryStatus[capacity];
        LatencyMs = new float[capacity];
    }

    public double[] SentMs { get; }
    public int[] Expectation { get; }
    public QueryStatus[] Status { get; }
    public float[] LatencyMs { get; }
    public int Count { get; set; }
    public long StartUnixMs { get; set; }
    public double TimeoutMs { get; set; }
    public IReadOnlyList<string> WrongSamples => _wrongSamples;
    public int WrongSeen => _wrongSeen;

    public void Record(int index, int expectation, double sentMs)
    {
        SentMs[index] = sentMs;
        Expectation[index] = expectation;
    }

    /// <summary>Keeps the first few wrong answers to print: enough to see what went wrong.</summary>
    public void NoteWrong(Expectation expected, string got)
    {
        _wrongSeen++;
        if (_wrongSamples.Count < 10)
            _wrongSamples.Add(string.Create(CultureInfo.InvariantCulture, $"{expected.Name}: got {got}, expected {string.Join('|', expected.Accepted)}"));
    }
}
