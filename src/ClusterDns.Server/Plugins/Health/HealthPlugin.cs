using System.Net;
using System.Text;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Server.Plugins.Health;

public sealed record HealthOptions(string Address, TimeSpan Lameduck);

/// <summary>
/// health: <c>GET /health</c> answers 200 <c>OK</c> for as long as the process serves (it says nothing about plugins;
/// that is ready's job). <c>lameduck D</c> makes a SIGTERM keep serving for D before the listeners close, so clients
/// and kube-proxy have time to move away. It takes no part in answering queries.
/// </summary>
public static class HealthPlugin
{
    public const string PluginName = "health";
    public const string DefaultAddress = ":8080";
    public const string Path = "/health";

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private static readonly byte[] Ok = Encoding.ASCII.GetBytes("OK");

    private static DnsPlugin? Setup(PluginSetupContext context, Directive directive)
    {
        var options = ParseOptions(directive);
        context.ServeHttp(options.Address, Path, ServeAsync);
        context.OnStartup(_ =>
        {
            context.Services.Lameduck = options.Lameduck;
            return Task.CompletedTask;
        });
        return null;
    }

    public static HealthOptions ParseOptions(Directive directive)
    {
        var address = directive.ParseHttpAddress(DefaultAddress);
        var lameduck = TimeSpan.Zero;
        foreach (var line in directive.Block)
        {
            if (line.Name != "lameduck") throw line.UnknownProperty(PluginName);
            line.ExpectArgumentCount(1, 1);
            lameduck = line.ParseDuration(line.Arguments[0]);
            if (lameduck < TimeSpan.Zero) throw line.Error("lameduck duration must not be negative");
        }
        return new HealthOptions(address, lameduck);
    }

    private static async Task ServeAsync(HttpListenerContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.ContentLength64 = Ok.Length;
        await context.Response.OutputStream.WriteAsync(Ok).ConfigureAwait(false);
    }
}
