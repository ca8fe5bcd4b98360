using ClusterDns.Server.Wire;

namespace ClusterDns.Server.Pipeline;

/// <summary>
/// Receives the finished response of a query. The outermost writer belongs to the transport (it applies EDNS size,
/// truncation and framing); plugins that post-process a response (cache) wrap it.
/// </summary>
public interface IDnsResponseWriter
{
    /// <summary>Sends <paramref name="response"/>, a complete DNS message, as the answer to <paramref name="request"/>.</summary>
    void Write(DnsRequestContext request, ReadOnlySpan<byte> response);
}

/// <summary>A link of the pipeline: it answers the query (writes and returns its rcode) or calls the next link.</summary>
public interface IDnsHandler
{
    string Name { get; }

    /// <summary>
    /// Handles the query. Returning SERVFAIL, REFUSED, FORMERR or NOTIMP without writing means "not answered":
    /// the caller writes an error response with that rcode (CoreDNS's contract).
    /// </summary>
    ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer);
}

/// <summary>Base of every plugin handler: its name and the link to the next one.</summary>
public abstract class DnsPlugin : IDnsHandler
{
    public abstract string Name { get; }

    /// <summary>The next handler in the fixed plugin order; null for the last one.</summary>
    public IDnsHandler? Next { get; internal set; }

    public abstract ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer);

    /// <summary>Hands the query on, or answers SERVFAIL when this is the end of the chain.</summary>
    protected ValueTask<int> NextOrFailure(DnsRequestContext request, IDnsResponseWriter writer)
    {
        if (Next is null) return new ValueTask<int>(DnsRcode.ServFail);
        request.CurrentPlugin = Next.Name;
        return Next.ServeDnsAsync(request, writer);
    }
}

/// <summary>A plugin that reports whether it is ready to serve (the ready plugin asks every such plugin).</summary>
public interface IReadinessReporter
{
    string Name { get; }
    bool IsReady { get; }
}
