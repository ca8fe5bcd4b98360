using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Plugins.Forward;

/// <summary>
/// forward: relays queries under FROM to upstream resolvers, as CoreDNS's forward does. The client's query bytes go
/// upstream unchanged but for a fresh ID; the upstream's answer comes back with the client's ID and letter case.
/// Failed upstreams are health-checked and skipped while down; a client never waits longer than the query budget.
/// </summary>
public sealed partial class ForwardPlugin : DnsPlugin, IDisposable
{
    public const string PluginName = "forward";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private readonly UpstreamProxy[] _upstreams;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private int _inFlight;
    private uint _roundRobin;

    public ForwardPlugin(ForwardOptions options, TimeProvider time, ILogger logger)
    {
        Options = options;
        _time = time;
        _logger = logger;
        _upstreams = new UpstreamProxy[options.Upstreams.Count];
        for (var i = 0; i < _upstreams.Length; i++) _upstreams[i] = new UpstreamProxy(options.Upstreams[i], options, time);
    }

    public override string Name => PluginName;
    public ForwardOptions Options { get; }
    public IReadOnlyList<UpstreamProxy> Upstreams => _upstreams;
    /// <summary>Queries being forwarded right now (what max_concurrent limits).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        var options = ForwardOptions.Parse(directive);
        var plugin = new ForwardPlugin(options, context.Services.TimeProvider,
            context.Services.LoggerFactory.CreateLogger("ClusterDns.Plugins.Forward"));
        context.OnShutdown(() =>
        {
            plugin.Dispose();
            return Task.CompletedTask;
        });
        return plugin;
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        if (!DnsName.IsSubdomain(request.QName, Options.FromWire) || IsExcepted(request.QName)) return NextOrFailure(request, writer);
        if (Options.MaxConcurrent > 0)
        {
            if (Interlocked.Increment(ref _inFlight) > Options.MaxConcurrent)
            {
                Interlocked.Decrement(ref _inFlight);
                ForwardMetrics.MaxConcurrentRejects.Inc();
                return new ValueTask<int>(DnsRcode.Refused);
            }
        }
        else
        {
            Interlocked.Increment(ref _inFlight);
        }
        return ForwardAsync(request, writer);
    }

    private bool IsExcepted(ReadOnlySpan<byte> name)
    {
        foreach (var except in Options.Except)
        {
            if (DnsName.IsSubdomain(name, except)) return true;
        }
        return false;
    }

    private async ValueTask<int> ForwardAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        var length = request.QueryLength;
        var query = ArrayPool<byte>.Shared.Rent(length);
        var response = ArrayPool<byte>.Shared.Rent(DnsRequestLimits.MaxMessage);
        try
        {
            request.Query.CopyTo(query);
            var qname = request.QName.ToArray();
            var tcp = Options.ForceTcp || (!Options.PreferUdp && request.Transport == DnsTransport.Tcp);
            var start = _time.GetTimestamp();
            var order = Order();
            Exception? lastError = null;
            var position = 0;
            while (_time.GetElapsedTime(start) < Options.QueryTimeout && !request.Aborted.IsCancellationRequested)
            {
                var upstream = Pick(order, ref position, out var everyUpstreamDown);
                if (upstream is null) return DnsRcode.ServFail; // every upstream down and failfast asked for it
                BinaryPrimitives.WriteUInt16BigEndian(query, (ushort)Random.Shared.Next(0, 65536));
                var remaining = Options.QueryTimeout - _time.GetElapsedTime(start);
                var tryTimeout = remaining < Options.ReadTimeout ? remaining : Options.ReadTimeout;
                if (tryTimeout <= TimeSpan.Zero) break;
                var tryStart = Stopwatch.GetTimestamp();
                int received;
                try
                {
                    received = await upstream.ExchangeAsync(query, length, qname, request.QType, request.QClass, tcp, response, tryTimeout, request.Aborted).ConfigureAwait(false);
                    if (!tcp && (response[2] & 0x02) != 0)
                    {
                        // Truncated over UDP: ask the same upstream again over TCP for the whole answer.
                        received = await upstream.ExchangeAsync(query, length, qname, request.QType, request.QClass, true, response, tryTimeout, request.Aborted).ConfigureAwait(false);
                    }
                }
                catch (UpstreamException exception)
                {
                    lastError = exception;
                    upstream.ReportFailure();
                    LogUpstreamFailed(_logger, upstream.Address.Label, exception.Message);
                    // As CoreDNS: with every upstream down, one try of a random one, then SERVFAIL (not retries until
                    // the timeout).
                    if (everyUpstreamDown) break;
                    // A refused send fails synchronously: yield, so retries never spin on the listener's receive
                    // thread, which would hold up every other query on that socket until the timeout.
                    await Task.Yield();
                    continue;
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                var rcode = response[3] & 0x0F;
                upstream.ObserveDuration(rcode, Stopwatch.GetElapsedTime(tryStart).TotalSeconds);
                if (Options.NextRcodes.Count > 0 && Options.NextRcodes.Contains(rcode) && Next is not null) return await NextOrFailure(request, writer).ConfigureAwait(false);
                var buffer = request.ResponseBuffer;
                response.AsSpan(0, received).CopyTo(buffer);
                BinaryPrimitives.WriteUInt16BigEndian(buffer, request.Id);
                // Echo the client's letter case: the reply's question is the same name, so the same length when uncompressed.
                var question = request.Question;
                var replyQuestionEnd = DnsName.Skip(buffer[..received], 12);
                if (replyQuestionEnd == 12 + question.Length - 4) question.CopyTo(buffer[12..]);
                writer.Write(request, buffer[..received]);
                return rcode;
            }
            request.Error = lastError ?? new TimeoutException("forward: no upstream answered in time");
            return DnsRcode.ServFail;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            ArrayPool<byte>.Shared.Return(query);
            ArrayPool<byte>.Shared.Return(response);
        }
    }

    /// <summary>The upstreams in the order this query tries them, by policy.</summary>
    private int[] Order()
    {
        var count = _upstreams.Length;
        var order = new int[count];
        switch (Options.Policy)
        {
            case ForwardPolicy.Sequential:
                for (var i = 0; i < count; i++) order[i] = i;
                break;
            case ForwardPolicy.RoundRobin:
                var first = (int)(Interlocked.Increment(ref _roundRobin) % (uint)count);
                for (var i = 0; i < count; i++) order[i] = (first + i) % count;
                break;
            default:
                for (var i = 0; i < count; i++) order[i] = i;
                for (var i = count - 1; i > 0; i--)
                {
                    var j = Random.Shared.Next(i + 1);
                    (order[i], order[j]) = (order[j], order[i]);
                }
                break;
        }
        return order;
    }

    /// <summary>
    /// The next upstream that is not down, wrapping around; when all are down, a random one (CoreDNS assumes the
    /// health checks are broken then) or, with failfast_all_unhealthy_upstreams, none.
    /// </summary>
    private UpstreamProxy? Pick(int[] order, ref int position, out bool everyUpstreamDown)
    {
        everyUpstreamDown = false;
        for (var tried = 0; tried < order.Length; tried++)
        {
            var candidate = _upstreams[order[position++ % order.Length]];
            if (!candidate.IsDown) return candidate;
        }
        everyUpstreamDown = true;
        ForwardMetrics.HealthcheckBroken.Inc();
        if (Options.FailFastAllUnhealthy) return null;
        return _upstreams[Random.Shared.Next(_upstreams.Length)];
    }

    public void Dispose()
    {
        foreach (var upstream in _upstreams) upstream.Dispose();
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Debug, Message = "forward: upstream {Upstream} failed: {Reason}")]
    private static partial void LogUpstreamFailed(ILogger logger, string upstream, string reason);
}
