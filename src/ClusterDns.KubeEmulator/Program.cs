using System.Globalization;

namespace ClusterDns.KubeEmulator;

/// <summary>Command line: serve an emulated Kubernetes API until Ctrl+C or SIGTERM.</summary>
internal static class Program
{
    private const string Usage = "usage: ClusterDns.KubeEmulator [--port N] [--address A] [--fixture FILE]... [--synthetic NSxSVCxPODS] [--demo] [--history N]";

    public static async Task<int> Main(string[] args)
    {
        var options = new KubeEmulatorOptions();
        var fixtures = new List<string>();
        (int Ns, int Svc, int Pods)? synthetic = null;
        bool demo = false;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--port": options = options with { Port = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--address": options = options with { Address = Next() }; break;
                    case "--history": options = options with { HistoryLimit = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--fixture": fixtures.Add(Next()); break;
                    case "--demo": demo = true; break;
                    case "--synthetic":
                        {
                            var parts = Next().Split('x');
                            if (parts.Length != 3) throw new ArgumentException("--synthetic wants NSxSVCxPODS, e.g. 10x100x5");
                            synthetic = (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture));
                            break;
                        }
                    case "-h" or "--help":
                        Console.WriteLine(Usage);
                        return 0;
                    default:
                        throw new ArgumentException($"unknown argument {args[i]}");
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync(e.Message + "\n" + Usage).ConfigureAwait(false);
            return 2;
        }

        await using var emulator = await KubeApiEmulator.StartAsync(options).ConfigureAwait(false);
        try
        {
            if (demo) ClusterFixtures.AddDemoCluster(emulator.Store);
            foreach (var file in fixtures) ClusterFixtures.LoadManifestFile(emulator.Store, file);
            if (synthetic is { } s) ClusterFixtures.AddSyntheticCluster(emulator.Store, s.Ns, s.Svc, s.Pods);
        }
        catch (Exception e) when (e is IOException or FormatException or KubeApiException or ArgumentException)
        {
            await Console.Error.WriteLineAsync("loading fixtures failed: " + e.Message).ConfigureAwait(false);
            return 1;
        }

        Console.WriteLine(emulator.BaseAddress.ToString().TrimEnd('/'));
        Console.Out.Flush();
        using var done = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.Cancel(); };
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; done.Cancel(); });
        try
        {
            await Task.Delay(Timeout.Infinite, done.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Asked to stop.
        }
        return 0;
    }
}
