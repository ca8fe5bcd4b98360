using System.Globalization;
using System.Net;

namespace ClusterDns.LoadCheck;

/// <summary>
/// A load checker for fault scenarios: dnsperf counts rcodes, this counts wrong answers. Two modes:
///   udp      --server IP:PORT --rate QPS --seconds S [--timeout-ms MS] [--window-ms MS] [--marks FILE] [--until-file FILE]
///            --expect "NAME TYPE ANSWERS"... | --expect-file FILE
///   tcp-hold --server IP:PORT --connections N --half-frames M --seconds S
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("udp" or "tcp-hold"))
        {
            Console.Error.WriteLine("usage: ClusterDns.LoadCheck udp|tcp-hold --server IP:PORT ... (see Program.cs)");
            return 2;
        }
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var expectations = new List<Expectation>();
        try
        {
            for (int i = 1; i < args.Length; i++)
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"{args[i]} needs a value");
                var value = args[++i];
                switch (args[i - 1])
                {
                    case "--expect": expectations.Add(Expectation.Parse(value)); break;
                    case "--expect-file":
                        foreach (var line in File.ReadLines(value))
                            if (line.Trim() is { Length: > 0 } spec && !spec.StartsWith('#')) expectations.Add(Expectation.Parse(spec));
                        break;
                    default: options[args[i - 1].TrimStart('-')] = value; break;
                }
            }
            var server = IPEndPoint.Parse(Required(options, "server"));
            var seconds = TimeSpan.FromSeconds(double.Parse(Required(options, "seconds"), CultureInfo.InvariantCulture));
            if (args[0] == "tcp-hold")
            {
                new TcpHolder(server, Int(options, "connections", 5000), Int(options, "half-frames", 300), seconds).Run(Console.Out);
                return 0;
            }
            if (expectations.Count == 0) throw new ArgumentException("udp needs --expect or --expect-file");
            var checker = new UdpChecker(server, expectations, Int(options, "rate", 2000), seconds,
                TimeSpan.FromMilliseconds(Int(options, "timeout-ms", 2000)), options.GetValueOrDefault("until-file"));
            var log = checker.Run();
            new PhaseReport(log, options.GetValueOrDefault("marks")).Print(Console.Out, Int(options, "window-ms", 1000));
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
    }

    private static string Required(Dictionary<string, string> options, string name) =>
        options.TryGetValue(name, out var value) ? value : throw new ArgumentException($"--{name} is required");

    private static int Int(Dictionary<string, string> options, string name, int fallback) =>
        options.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;
}
