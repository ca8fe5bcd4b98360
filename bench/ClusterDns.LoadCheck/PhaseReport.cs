using System.Globalization;

namespace ClusterDns.LoadCheck;

/// <summary>
/// Splits the query log into phases by the marks a fault script wrote (lines "LABEL UNIX_MS": from that moment on,
/// queries belong to LABEL; before the first mark, to "before"), and prints per time window and per phase: sent,
/// answered, correct, wrong, late, lost.
/// </summary>
internal sealed class PhaseReport
{
    private readonly QueryLog _log;
    private readonly List<(string Label, double FromMs)> _phases = [("before", double.NegativeInfinity)];

    public PhaseReport(QueryLog log, string? marksFile)
    {
        _log = log;
        if (marksFile is null || !File.Exists(marksFile)) return;
        foreach (var line in File.ReadLines(marksFile))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2) continue;
            _phases.Add((parts[0], long.Parse(parts[1], CultureInfo.InvariantCulture) - log.StartUnixMs));
        }
        _phases.Sort((a, b) => a.FromMs.CompareTo(b.FromMs));
    }

    public void Print(TextWriter output, double windowMs)
    {
        var windows = new SortedDictionary<int, Tally>();
        var phases = new Dictionary<string, Tally>();
        var order = new List<string>();
        for (int i = 0; i < _log.Count; i++)
        {
            double sent = _log.SentMs[i];
            int window = (int)(sent / windowMs);
            if (!windows.TryGetValue(window, out var w)) windows[window] = w = new Tally();
            var label = PhaseOf(sent);
            if (!phases.TryGetValue(label, out var p))
            {
                phases[label] = p = new Tally();
                order.Add(label);
            }
            w.Add(_log.Status[i], _log.LatencyMs[i]);
            p.Add(_log.Status[i], _log.LatencyMs[i]);
        }
        foreach (var (window, tally) in windows)
        {
            double from = window * windowMs / 1000;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"window t={from,6:F1}s phase={PhaseOf(window * windowMs),-8} {tally}"));
        }
        foreach (var sample in _log.WrongSamples) output.WriteLine("wrong: " + sample);
        foreach (var label in order) output.WriteLine($"phase={label} {phases[label]}");
        var all = new Tally();
        foreach (var p in phases.Values) all.Merge(p);
        output.WriteLine($"summary {all}");
    }

    private string PhaseOf(double sentMs)
    {
        var label = _phases[0].Label;
        foreach (var (candidate, from) in _phases)
            if (sentMs >= from) label = candidate;
        return label;
    }

    private sealed class Tally
    {
        private long _sent, _correct, _wrong, _late;
        private float _maxLatency;

        public void Add(QueryStatus status, float latency)
        {
            _sent++;
            if (status == QueryStatus.Correct) _correct++;
            else if (status == QueryStatus.Wrong) _wrong++;
            else if (status == QueryStatus.Late) _late++;
            if (status != QueryStatus.Pending && latency > _maxLatency) _maxLatency = latency;
        }

        public void Merge(Tally other)
        {
            _sent += other._sent;
            _correct += other._correct;
            _wrong += other._wrong;
            _late += other._late;
            _maxLatency = Math.Max(_maxLatency, other._maxLatency);
        }

        public override string ToString()
        {
            long answered = _correct + _wrong + _late;
            double percent = _sent == 0 ? 100 : 100.0 * _correct / _sent;
            return string.Create(CultureInfo.InvariantCulture,
                $"sent={_sent} answered={answered} correct={_correct} correct%={percent:F2} wrong={_wrong} late={_late} lost={_sent - answered} max_ms={_maxLatency:F1}");
        }
    }
}
