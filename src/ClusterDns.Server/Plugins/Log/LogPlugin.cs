using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Plugins.Log;

/// <summary>One <c>log</c> rule: the names it covers, its line format, and the response classes it logs.</summary>
public sealed record LogRule(string NameScope, byte[] NameScopeWire, LogFormat Format, LogClass Classes);

/// <summary>
/// log: writes one line per query it covers, after the answer was sent, in CoreDNS's Common Log Format by default:
/// <c>[INFO] 10.0.0.1:41234 - 4242 "A IN example.org. udp 41 false 1232" NOERROR qr,rd,ra 64 0.000153s</c>.
/// Nothing is logged per query unless this plugin is configured.
/// </summary>
public sealed class LogPlugin : DnsPlugin
{
    public const string PluginName = "log";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private readonly LogRule[] _rules;
    private readonly PluginLogOutput _output;

    public LogPlugin(IReadOnlyList<LogRule> rules, PluginLogOutput output)
    {
        _rules = [.. rules];
        _output = output;
    }

    public override string Name => PluginName;
    public IReadOnlyList<LogRule> Rules => _rules;

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive) =>
        new LogPlugin(ParseRules(directive), PluginLogOutput.For(context.Services));

    /// <summary>
    /// <c>log</c>, <c>log NAME</c>, <c>log NAMES... FORMAT</c> (the last argument is a format when it holds a <c>{</c>),
    /// and an optional block of <c>class success|denial|error|all</c> lines.
    /// </summary>
    public static IReadOnlyList<LogRule> ParseRules(Directive directive)
    {
        var arguments = directive.Arguments.Select(a => a.Text).ToList();
        var format = LogFormat.Common;
        if (arguments.Count > 1 && arguments[^1].Contains('{'))
        {
            format = arguments[^1];
            arguments.RemoveAt(arguments.Count - 1);
        }
        if (arguments.Count == 0) arguments.Add(".");

        var classes = LogClass.None;
        foreach (var line in directive.Block)
        {
            if (line.Name != "class") throw line.UnknownProperty(PluginName);
            if (line.Arguments.Count == 0) throw line.Error("class needs at least one of success, denial, error, all");
            foreach (var argument in line.Arguments)
            {
                classes |= argument.Text switch
                {
                    "success" => LogClass.Success,
                    "denial" => LogClass.Denial,
                    "error" => LogClass.Error,
                    "all" => LogClass.All,
                    _ => throw line.Error($"invalid class '{argument.Text}': expected success, denial, error or all"),
                };
            }
        }
        if (classes == LogClass.None) classes = LogClass.All;

        var parsedFormat = LogFormat.Parse(format);
        var rules = new List<LogRule>();
        foreach (var name in arguments)
        {
            var zone = directive.ParseZone(new CorefileToken(name, directive.File, directive.Line));
            rules.Add(new LogRule(zone, DnsName.Encode(zone), parsedFormat, classes));
        }
        return rules;
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        foreach (var rule in _rules)
        {
            if (!DnsName.IsSubdomain(request.QName, rule.NameScopeWire)) continue;
            var recorder = new RecordingWriter(writer);
            ValueTask<int> pending;
            try
            {
                pending = NextOrFailure(request, recorder);
            }
            catch
            {
                Log(rule, request, recorder, DnsRcode.ServFail);
                throw;
            }
            if (pending.IsCompletedSuccessfully)
            {
                var rcode = pending.Result;
                Finish(rule, request, recorder, rcode);
                return new ValueTask<int>(rcode);
            }
            return AwaitAsync(pending, rule, request, recorder);
        }
        return NextOrFailure(request, writer);
    }

    private async ValueTask<int> AwaitAsync(ValueTask<int> pending, LogRule rule, DnsRequestContext request, RecordingWriter recorder)
    {
        int rcode;
        try
        {
            rcode = await pending.ConfigureAwait(false);
        }
        catch
        {
            Log(rule, request, recorder, DnsRcode.ServFail);
            throw;
        }
        Finish(rule, request, recorder, rcode);
        return rcode;
    }

    private void Finish(LogRule rule, DnsRequestContext request, RecordingWriter recorder, int rcode)
    {
        // A failure nobody wrote yet is answered here, as CoreDNS's log does, so the line shows what the client got.
        // The server, not a plugin, is recorded as its writer, so the metrics' plugin label stays empty.
        if (!request.ResponseWritten && DnsRcode.IsClientWriteRequired(rcode))
        {
            var length = ResponseFinalizer.WriteError(request, request.ResponseBuffer, rcode);
            request.CurrentPlugin = "";
            recorder.Write(request, request.ResponseBuffer[..length]);
        }
        Log(rule, request, recorder, rcode);
    }

    private void Log(LogRule rule, DnsRequestContext request, RecordingWriter recorder, int rcode)
    {
        var response = recorder.Response;
        if (response.Written && request.ResponseWritten)
        {
            // What actually left: the transport may have truncated it.
            response = response with { Rcode = request.ResponseRcode, Length = request.ResponseLength };
        }
        if ((rule.Classes & response.Classify()) == 0) return;
        _output.WriteLine("[INFO] " + rule.Format.Format(request, response));
    }

    /// <summary>Passes the response on and keeps its header, for the flags and class of the log line.</summary>
    private sealed class RecordingWriter(IDnsResponseWriter inner) : IDnsResponseWriter
    {
        public LoggedResponse Response { get; private set; }

        public void Write(DnsRequestContext request, ReadOnlySpan<byte> response)
        {
            Response = LoggedResponse.FromWire(response, response.Length);
            inner.Write(request, response);
        }
    }
}
