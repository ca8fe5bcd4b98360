using ClusterDns.Server.Wire;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Pipeline;

/// <summary>
/// Takes one received query from parse to answer: malformed input gets FORMERR (or is dropped when there is no
/// header to answer), a name no block serves gets REFUSED, the rest runs through its zone's pipeline; whatever the
/// pipeline leaves unwritten is answered with its rcode. Shared by the UDP and TCP transports.
/// </summary>
public sealed partial class DnsQueryProcessor(ILogger logger)
{
    /// <summary>Counts exceptions escaping a pipeline (coredns_panics_total); set by the prometheus plugin's metrics.</summary>
    public static Action? PanicObserved { get; set; }

    /// <summary>Processes the query in <paramref name="request"/>; completes synchronously unless a plugin awaited I/O.</summary>
    public ValueTask ProcessAsync(DnsRequestContext request, ZoneRouter router, IDnsResponseWriter writer)
    {
        switch (request.Parse())
        {
            case DnsRequestContext.ParseResult.Drop:
                return default;
            case DnsRequestContext.ParseResult.FormatError:
                WriteHeaderOnly(request, writer, DnsRcode.FormErr);
                return default;
            case DnsRequestContext.ParseResult.NotImplemented:
                WriteHeaderOnly(request, writer, DnsRcode.NotImp);
                return default;
        }

        var zone = router.Find(request.QName);
        if (zone is null)
        {
            WriteError(request, writer, DnsRcode.Refused);
            return default;
        }
        request.Zone = zone;
        request.CurrentPlugin = zone.Pipeline.Name;
        ValueTask<int> pending;
        try
        {
            pending = zone.Pipeline.ServeDnsAsync(request, writer);
        }
        catch (Exception exception)
        {
            OnPanic(request, writer, exception);
            return default;
        }
        if (pending.IsCompletedSuccessfully)
        {
            Complete(request, writer, pending.Result);
            return default;
        }
        return AwaitAsync(pending, request, writer);
    }

    private async ValueTask AwaitAsync(ValueTask<int> pending, DnsRequestContext request, IDnsResponseWriter writer)
    {
        int rcode;
        try
        {
            rcode = await pending.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            OnPanic(request, writer, exception);
            return;
        }
        Complete(request, writer, rcode);
    }

    private static void Complete(DnsRequestContext request, IDnsResponseWriter writer, int rcode)
    {
        // A handler that returned without writing leaves the client waiting; answer with its rcode instead
        // (SERVFAIL when the rcode claims success).
        if (!request.ResponseWritten) WriteError(request, writer, DnsRcode.IsClientWriteRequired(rcode) ? rcode : DnsRcode.ServFail);
    }

    private void OnPanic(DnsRequestContext request, IDnsResponseWriter writer, Exception exception)
    {
        PanicObserved?.Invoke();
        LogPanic(logger, request.CurrentPlugin, exception);
        if (!request.ResponseWritten) WriteError(request, writer, DnsRcode.ServFail);
    }

    private static void WriteError(DnsRequestContext request, IDnsResponseWriter writer, int rcode)
    {
        var length = ResponseFinalizer.WriteError(request, request.ResponseBuffer, rcode);
        request.CurrentPlugin = "";
        writer.Write(request, request.ResponseBuffer[..length]);
    }

    private static void WriteHeaderOnly(DnsRequestContext request, IDnsResponseWriter writer, int rcode)
    {
        var length = ResponseFinalizer.WriteHeaderOnly(request.Query, request.ResponseBuffer, rcode);
        writer.Write(request, request.ResponseBuffer[..length]);
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "Recovered from panic in plugin {Plugin}")]
    private static partial void LogPanic(ILogger logger, string plugin, Exception exception);
}
