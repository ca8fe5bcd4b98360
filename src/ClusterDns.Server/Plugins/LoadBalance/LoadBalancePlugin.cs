using System.Security.Cryptography;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Plugins.LoadBalance;

/// <summary>
/// loadbalance: reorders the address records of every answer, as CoreDNS's loadbalance does: round_robin shuffles
/// A, AAAA and MX; weighted draws the first address by the weights of a weight file, re-read when it changes. The
/// reordering happens where the response leaves (the transport's finalizer), so whoever answers, cache included,
/// never has its own bytes changed.
/// </summary>
public sealed partial class LoadBalancePlugin : DnsPlugin
{
    public const string PluginName = "loadbalance";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private readonly IAnswerOrder _order;
    private readonly WeightedAnswerOrder? _weighted;
    private readonly ILogger _logger;
    private byte[]? _weightFileHash;

    public LoadBalancePlugin(LoadBalanceOptions options, ILogger logger)
    {
        Options = options;
        _logger = logger;
        if (options.Policy == LoadBalancePolicy.Weighted) _order = _weighted = new WeightedAnswerOrder();
        else _order = RoundRobinAnswerOrder.Instance;
    }

    public override string Name => PluginName;
    public LoadBalanceOptions Options { get; }

    /// <summary>The weights in use (weighted); empty until the file was read.</summary>
    public WeightTable Weights => _weighted?.Weights ?? WeightTable.Empty;

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        var options = LoadBalanceOptions.Parse(directive);
        var plugin = new LoadBalancePlugin(options, context.Services.LoggerFactory.CreateLogger("ClusterDns.Plugins.LoadBalance"));
        if (options.Policy != LoadBalancePolicy.Weighted) return plugin;
        try
        {
            plugin.ReloadWeights();
        }
        catch (WeightFileException exception)
        {
            throw directive.Error(exception.Message);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // As CoreDNS: a weight file that is not there yet is waited for when it is re-read, else it is an error.
            if (options.Reload == TimeSpan.Zero) throw directive.Error($"cannot read weight file: {exception.Message}");
            LogWeightFileMissing(plugin._logger, options.WeightFile!, exception.Message, options.Reload.TotalSeconds);
        }
        if (options.Reload > TimeSpan.Zero) context.RunPeriodically(options.Reload, plugin.ReloadWeightsIfChanged);
        return plugin;
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        request.AnswerOrder = _order;
        return NextOrFailure(request, writer);
    }

    /// <summary>Reads the weight file when its content changed; throws for a file that cannot be read or parsed.</summary>
    public void ReloadWeights()
    {
        var path = Options.WeightFile!;
        var content = File.ReadAllBytes(path);
        var hash = SHA256.HashData(content);
        if (_weightFileHash is not null && hash.AsSpan().SequenceEqual(_weightFileHash)) return;
        var table = WeightTable.Parse(System.Text.Encoding.UTF8.GetString(content), path);
        _weighted!.Weights = table;
        _weightFileHash = hash;
        LogWeightsLoaded(_logger, path, table.DomainCount);
    }

    private void ReloadWeightsIfChanged()
    {
        try
        {
            ReloadWeights();
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or WeightFileException)
        {
            // The weights in use stay until the file reads again.
            LogWeightFileFailed(_logger, Options.WeightFile!, exception.Message);
        }
    }

    [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "loadbalance: weight file {Path} loaded, {Domains} domains")]
    private static partial void LogWeightsLoaded(ILogger logger, string path, int domains);

    [LoggerMessage(EventId = 801, Level = LogLevel.Warning, Message = "loadbalance: cannot read weight file {Path}: {Reason}; trying again every {Seconds} s")]
    private static partial void LogWeightFileMissing(ILogger logger, string path, string reason, double seconds);

    [LoggerMessage(EventId = 802, Level = LogLevel.Error, Message = "loadbalance: weight file {Path} not reloaded, the previous weights stay: {Reason}")]
    private static partial void LogWeightFileFailed(ILogger logger, string path, string reason);
}
