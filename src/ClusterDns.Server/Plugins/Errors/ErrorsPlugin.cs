using System.Globalization;
using System.Text.RegularExpressions;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Plugins.Log;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Errors;

/// <summary>
/// A <c>consolidate DURATION REGEXP [LEVEL] [show_first]</c> line: errors matching it are counted and reported once per
/// period instead of one line each.
/// </summary>
public sealed class ConsolidationRule(TimeSpan period, Regex pattern, string level, bool showFirst)
{
    private long _count;

    public TimeSpan Period { get; } = period;
    public Regex Pattern { get; } = pattern;
    /// <summary>CoreDNS's level word as printed: ERROR, WARNING, INFO or DEBUG.</summary>
    public string Level { get; } = level;
    public bool ShowFirst { get; } = showFirst;

    /// <summary>Counts a match; true when this is the first of its period (for <c>show_first</c>).</summary>
    internal bool Increment() => Interlocked.Increment(ref _count) == 1;

    internal long TakeCount() => Interlocked.Exchange(ref _count, 0);
}

public sealed record ErrorsOptions(IReadOnlyList<ConsolidationRule> Consolidate, bool StackTrace);

/// <summary>
/// errors: logs what went wrong below it, as CoreDNS does: <c>[ERROR] plugin/errors: 2 example.org. A: &lt;error&gt;</c>,
/// for every query that ends in a failure rcode with an error reported (<see cref="DnsRequestContext.Error"/>) or
/// with an exception. Errors matching a <c>consolidate</c> pattern are summed up once per period instead.
/// </summary>
public sealed class ErrorsPlugin : DnsPlugin
{
    public const string PluginName = "errors";
    /// <summary>CoreDNS caps the length of a consolidate pattern.</summary>
    public const int MaxPatternLength = 10_000;

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private readonly ErrorsOptions _options;
    private readonly PluginLogOutput _output;

    public ErrorsPlugin(ErrorsOptions options, PluginLogOutput output)
    {
        _options = options;
        _output = output;
    }

    public override string Name => PluginName;
    public ErrorsOptions Options => _options;

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        var options = ParseOptions(directive);
        var plugin = new ErrorsPlugin(options, PluginLogOutput.For(context.Services));
        if (options.Consolidate.Count > 0)
        {
            var timers = new List<ITimer>();
            context.OnStartup(_ =>
            {
                foreach (var rule in options.Consolidate)
                {
                    timers.Add(context.Services.TimeProvider.CreateTimer(_ => plugin.Report(rule), null, rule.Period, rule.Period));
                }
                return Task.CompletedTask;
            });
            context.OnShutdown(async () =>
            {
                foreach (var timer in timers) await timer.DisposeAsync().ConfigureAwait(false);
                foreach (var rule in options.Consolidate) plugin.Report(rule);
            });
        }
        return plugin;
    }

    public static ErrorsOptions ParseOptions(Directive directive)
    {
        directive.ExpectNoArguments();
        var rules = new List<ConsolidationRule>();
        var stackTrace = false;
        foreach (var line in directive.Block)
        {
            switch (line.Name)
            {
                case "stacktrace":
                    line.ExpectNoArguments();
                    stackTrace = true;
                    break;
                case "consolidate":
                    rules.Add(ParseConsolidate(line));
                    break;
                default:
                    throw line.UnknownProperty(PluginName);
            }
        }
        return new ErrorsOptions(rules, stackTrace);
    }

    private static ConsolidationRule ParseConsolidate(Directive line)
    {
        line.ExpectArgumentCount(2, 4);
        var period = line.ParseDuration(line.Arguments[0]);
        if (period <= TimeSpan.Zero) throw line.Error($"consolidate period must be positive, got '{line.Arguments[0].Text}'");
        var patternText = line.Arguments[1].Text;
        if (patternText.Length > MaxPatternLength) throw line.Error($"regex too long: {patternText.Length} > {MaxPatternLength}");
        Regex pattern;
        try
        {
            pattern = new Regex(patternText, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException exception)
        {
            throw line.Error($"invalid regex '{patternText}': {exception.Message}");
        }
        var level = "ERROR";
        var showFirst = false;
        for (var i = 2; i < line.Arguments.Count; i++)
        {
            switch (line.Arguments[i].Text)
            {
                case "warning": level = "WARNING"; break;
                case "error": level = "ERROR"; break;
                case "info": level = "INFO"; break;
                case "debug": level = "DEBUG"; break;
                case "show_first": showFirst = true; break;
                default: throw line.Error($"unknown log level or option '{line.Arguments[i].Text}'");
            }
        }
        return new ConsolidationRule(period, pattern, level, showFirst);
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        ValueTask<int> pending;
        try
        {
            pending = NextOrFailure(request, writer);
        }
        catch (Exception exception)
        {
            Observe(request, DnsRcode.ServFail, exception);
            throw;
        }
        if (pending.IsCompletedSuccessfully)
        {
            var rcode = pending.Result;
            if (request.Error is { } error) Observe(request, rcode, error);
            return new ValueTask<int>(rcode);
        }
        return AwaitAsync(pending, request);
    }

    private async ValueTask<int> AwaitAsync(ValueTask<int> pending, DnsRequestContext request)
    {
        int rcode;
        try
        {
            rcode = await pending.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Observe(request, DnsRcode.ServFail, exception);
            throw;
        }
        if (request.Error is { } error) Observe(request, rcode, error);
        return rcode;
    }

    private void Observe(DnsRequestContext request, int rcode, Exception error)
    {
        var text = error.Message;
        foreach (var rule in _options.Consolidate)
        {
            if (!rule.Pattern.IsMatch(text)) continue;
            // The first match of a period is shown as it is when asked to, the rest only counted.
            if (rule.Increment() && rule.ShowFirst) break;
            return;
        }
        var message = string.Create(CultureInfo.InvariantCulture, $"{rcode} {request.Name} {DnsTypeNames.ToText(request.QType)}: {text}");
        if (_options.StackTrace && error.StackTrace is { } stack) message += Environment.NewLine + stack;
        _output.Write("ERROR", PluginName, message);
    }

    /// <summary>Reports and resets the count of one consolidation rule (runs every period).</summary>
    internal void Report(ConsolidationRule rule)
    {
        var count = rule.TakeCount();
        if (count == 0) return;
        _output.Write(rule.Level, PluginName,
            string.Create(CultureInfo.InvariantCulture, $"{count} errors like '{rule.Pattern}' occurred in last {GoDuration.Format(rule.Period)}"));
    }
}

/// <summary>Formats a duration as Go's <c>time.Duration.String</c> does (<c>30s</c>, <c>5m0s</c>, <c>1h0m0s</c>, <c>500ms</c>).</summary>
public static class GoDuration
{
    public static string Format(TimeSpan value)
    {
        var invariant = CultureInfo.InvariantCulture;
        if (value == TimeSpan.Zero) return "0s";
        if (value < TimeSpan.FromSeconds(1))
        {
            if (value.Ticks % TimeSpan.TicksPerMillisecond == 0) return ((long)value.TotalMilliseconds).ToString(invariant) + "ms";
            return value.TotalMilliseconds.ToString("0.######", invariant) + "ms";
        }
        var hours = (long)value.TotalHours;
        var minutes = value.Minutes;
        var seconds = value.TotalSeconds - hours * 3600 - minutes * 60;
        var secondText = seconds.ToString("0.#########", invariant) + "s";
        if (hours > 0) return $"{hours.ToString(invariant)}h{minutes.ToString(invariant)}m{secondText}";
        if (minutes > 0) return $"{minutes.ToString(invariant)}m{secondText}";
        return secondText;
    }
}
