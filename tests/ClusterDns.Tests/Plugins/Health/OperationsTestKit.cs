using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;

namespace ClusterDns.Tests.Plugins.Operations;

/// <summary>Helpers the operations plugin tests share: free ports, plain HTTP GETs, and small stand-in plugins.</summary>
public static class OperationsTestKit
{
    public static int FreeTcpPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static async Task<(HttpStatusCode Status, string Body)> GetAsync(int port, string path)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var response = await client.GetAsync($"http://127.0.0.1:{port}{path}");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return true;
            await Task.Delay(100);
        }
        return await condition();
    }

    /// <summary>A catalog entry under <paramref name="name"/> that always hands out <paramref name="plugin"/>.</summary>
    public static PluginDefinition Fixed(string name, DnsPlugin plugin) => new(name, (_, _) => plugin);
}

/// <summary>A plugin that reports readiness as the test sets it, and otherwise passes queries on.</summary>
public sealed class SwitchableReadiness(string name) : DnsPlugin, IReadinessReporter
{
    public override string Name => name;
    public volatile bool Ready;
    public bool IsReady => Ready;

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer) => NextOrFailure(request, writer);
}

/// <summary>A plugin that fails every query with SERVFAIL and reports <paramref name="message"/> as its error.</summary>
public sealed class FailingPlugin(string name, string message) : DnsPlugin
{
    public override string Name => name;

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        request.Error = new IOException(message);
        return new ValueTask<int>(DnsRcode.ServFail);
    }
}

/// <summary>A plugin that answers NXDOMAIN, for tests that count responses by rcode.</summary>
public sealed class NxDomainPlugin(string name) : DnsPlugin
{
    public override string Name => name;

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        var builder = new DnsMessageBuilder(request.ResponseBuffer, request, DnsRcode.NxDomain, authoritative: true);
        var length = builder.Finish();
        writer.Write(request, request.ResponseBuffer[..length]);
        return new ValueTask<int>(DnsRcode.NxDomain);
    }
}

public static class DirectiveParsing
{
    /// <summary>The first directive of the first block of <paramref name="corefile"/>, for option parser tests.</summary>
    public static Directive First(string corefile) => CorefileParser.Parse(corefile, "Corefile").ServerBlocks[0].Directives[0];
}
