using System.Security.Cryptography;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Pipeline;
using Prometheus;

namespace ClusterDns.Server.Plugins.Reload;

public sealed record ReloadOptions(TimeSpan Interval, TimeSpan Jitter);

/// <summary>Metrics of the reload plugin, with CoreDNS's names.</summary>
public static class ReloadMetrics
{
    static ReloadMetrics()
    {
        Failed = Metrics.CreateCounter("coredns_reload_failed_total", "Counter of the number of failed reload attempts.");
        VersionInfo = Metrics.CreateGauge("coredns_reload_version_info",
            "A metric with a constant '1' value labeled by hash, and value which type of hash generated.", "hash", "value");
        DnsServerHost.ReloadFailed += () => Failed.Inc();
    }

    public static Counter Failed { get; }
    public static Gauge VersionInfo { get; }

    private static string? _current;

    /// <summary>Shows <paramref name="sha512"/> as the loaded version, replacing the one shown before.</summary>
    public static void SetVersion(string sha512)
    {
        lock (VersionInfo)
        {
            if (_current == sha512) return;
            if (_current is not null) VersionInfo.RemoveLabelled("sha512", _current);
            VersionInfo.WithLabels("sha512", sha512).Set(1);
            _current = sha512;
        }
    }
}

/// <summary>
/// reload: every INTERVAL (plus a random part of JITTER) hashes the Corefile and every file it imports, read through
/// their paths so a ConfigMap's <c>..data</c> symlink swap is seen, and asks the server to load it again when the hash
/// changed. A Corefile that fails to load leaves the running one serving and counts in coredns_reload_failed_total;
/// it is not retried until the files change again. The watcher belongs to its configuration: it starts when that
/// configuration goes live and stops when a reload retires it.
/// </summary>
public static class ReloadPlugin
{
    public const string PluginName = "reload";
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultJitter = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan MinimumJitter = TimeSpan.FromSeconds(1);

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private static DnsPlugin? Setup(PluginSetupContext context, Directive directive)
    {
        var options = ParseOptions(directive);
        _ = ReloadMetrics.Failed;
        var watcher = new CorefileWatcher(context.Services, options);
        context.OnStartup(_ =>
        {
            watcher.Start();
            return Task.CompletedTask;
        });
        context.OnShutdown(() => watcher.StopAsync());
        return null;
    }

    public static ReloadOptions ParseOptions(Directive directive)
    {
        directive.ExpectNoBlock();
        directive.ExpectArgumentCount(0, 2);
        var interval = DefaultInterval;
        var jitter = DefaultJitter;
        if (directive.Arguments.Count > 0)
        {
            interval = directive.ParseDuration(directive.Arguments[0]);
            if (interval < MinimumInterval) throw directive.Error($"interval value must be greater or equal to {GoDurationText(MinimumInterval)}");
        }
        if (directive.Arguments.Count > 1)
        {
            jitter = directive.ParseDuration(directive.Arguments[1]);
            if (jitter < MinimumJitter) throw directive.Error($"jitter value must be greater or equal to {GoDurationText(MinimumJitter)}");
        }
        // CoreDNS halves a jitter larger than half the interval.
        if (jitter > interval / 2) jitter = interval / 2;
        return new ReloadOptions(interval, jitter);
    }

    private static string GoDurationText(TimeSpan value) => Errors.GoDuration.Format(value);

    /// <summary>SHA-512 of the Corefile text, hex, as <c>coredns_reload_version_info</c> shows it.</summary>
    public static string Sha512Hex(byte[] content) => Convert.ToHexStringLower(SHA512.HashData(content));
}

/// <summary>Polls the Corefile and its imports and asks for a reload when their content changed.</summary>
internal sealed class CorefileWatcher(ServerServices services, ReloadOptions options)
{
    private readonly CancellationTokenSource _stop = new();
    private IReadOnlyList<string> _files = [];
    private string? _hash;

    public void Start()
    {
        if (services.CorefilePath is not { } path) return; // served from text (tests, the built-in default): nothing to watch
        _files = FilesOf(path, []);
        (_hash, var corefile) = Hash(path, _files);
        if (corefile is not null) ReloadMetrics.SetVersion(ReloadPlugin.Sha512Hex(corefile));
        _ = RunAsync(path);
    }

    /// <summary>
    /// Stops polling. It does not wait for the loop: the loop itself may be the caller, through the reload it asked for
    /// (which retires this configuration before it returns).
    /// </summary>
    public Task StopAsync()
    {
        _stop.Cancel();
        return Task.CompletedTask;
    }

    private async Task RunAsync(string path)
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            var jitter = options.Jitter > TimeSpan.Zero ? TimeSpan.FromTicks((long)(services.Random.NextDouble() * options.Jitter.Ticks)) : TimeSpan.Zero;
            await Task.Delay(options.Interval + jitter, services.TimeProvider, token).ConfigureAwait(false);
            _files = FilesOf(path, _files);
            var (hash, _) = Hash(path, _files);
            if (hash == _hash) continue;
            // Remember the new content whatever the outcome: a broken file is tried once, not every interval.
            _hash = hash;
            if (services.RequestReload is { } reload) await reload().ConfigureAwait(false);
        }
    }

    /// <summary>The Corefile and what it imports; the last known list when the file does not parse now.</summary>
    private static IReadOnlyList<string> FilesOf(string path, IReadOnlyList<string> previous)
    {
        try
        {
            return CorefileParser.ParseFile(path).Files;
        }
        catch (Exception exception) when (exception is CorefileException or IOException or UnauthorizedAccessException)
        {
            return previous.Count > 0 ? previous : [path];
        }
    }

    private static (string Hash, byte[]? Corefile) Hash(string path, IReadOnlyList<string> files)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        byte[]? corefile = null;
        foreach (var file in files.Contains(path) ? files : [path, .. files])
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(file + "\n"));
            try
            {
                var content = File.ReadAllBytes(file); // through the path: follows ..data symlinks as they are now
                if (file == path) corefile = content;
                hash.AppendData(content);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                hash.AppendData("\0missing\0"u8);
            }
        }
        return (Convert.ToHexStringLower(hash.GetHashAndReset()), corefile);
    }
}
