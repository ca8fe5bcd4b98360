using System.Reflection;
using System.Runtime.InteropServices;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Hosting;
using ClusterDns.Server.Plugins;
using Microsoft.Extensions.Logging;

namespace ClusterDns;

/// <summary>Start, serve and stop, as the coredns binary does: Corefile from -conf (or ./Corefile, or whoami on -dns.port).</summary>
public static class ServerCommand
{
    // No port in the key: it serves on -dns.port (53 by default), as CoreDNS's default Corefile does.
    public const string DefaultCorefile = ". {\n    whoami\n    log\n}\n";

    public static string Version => typeof(ServerCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static async Task<int> RunAsync(string[] args)
    {
        CommandLine commandLine;
        try
        {
            commandLine = CommandLine.Parse(args);
        }
        catch (ArgumentException exception)
        {
            await Console.Error.WriteLineAsync(exception.Message).ConfigureAwait(false);
            return 2;
        }
        var catalog = PluginRegistration.CreateCatalog();
        if (commandLine.ShowVersion)
        {
            Console.WriteLine($"ClusterDns-{Version}");
            Console.WriteLine($"{RuntimeInformation.OSDescription}/{RuntimeInformation.ProcessArchitecture}, {RuntimeInformation.FrameworkDescription}");
            return 0;
        }
        if (commandLine.ListPlugins)
        {
            Console.WriteLine("Server types:\n  dns\n\nCaddyfile loaders:\n  flag\n  default\n\nOther plugins:");
            foreach (var name in catalog.Names) Console.WriteLine($"  dns.{name}");
            return 0;
        }

        using var loggerFactory = LoggerFactory.Create(builder => builder
            .AddSimpleConsole(options => { options.SingleLine = true; options.TimestampFormat = null; })
            .SetMinimumLevel(LogLevel.Information));
        var services = new ServerServices(loggerFactory);
        await using var demo = commandLine.Demo ? await DemoCluster.StartAsync(services).ConfigureAwait(false) : null;
        var host = new DnsServerHost(catalog, services, new DnsServerHostOptions { DefaultPort = commandLine.DnsPort ?? 53 });
        try
        {
            var path = commandLine.ConfigPath ?? (demo is not null ? DemoCluster.PrepareCorefile(commandLine.DnsPort) : "Corefile");
            if (File.Exists(path) || commandLine.ConfigPath is not null)
            {
                await host.StartFromFileAsync(path).ConfigureAwait(false);
            }
            else
            {
                await host.StartAsync(CorefileParser.Parse(DefaultCorefile, "Corefile")).ConfigureAwait(false);
            }
        }
        catch (Exception exception) when (exception is CorefileException or IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync(exception.Message).ConfigureAwait(false);
            await host.DisposeAsync().ConfigureAwait(false);
            return 1;
        }

        if (!commandLine.Quiet)
        {
            foreach (var endPoint in host.UdpEndPoints) Console.WriteLine($"{(endPoint.Address.Equals(System.Net.IPAddress.IPv6Any) ? "" : endPoint.Address)}:{endPoint.Port}");
            Console.WriteLine($"ClusterDns-{Version}");
            Console.WriteLine($"{RuntimeInformation.OSDescription}/{RuntimeInformation.ProcessArchitecture}, {RuntimeInformation.FrameworkDescription}");
        }
        demo?.PrintInstructions(host.UdpEndPoints[0].Port);

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The registrations must stay referenced: a collected one silently stops handling the signal.
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.TrySetResult(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.TrySetResult(); });
        await stop.Task.ConfigureAwait(false);
        await host.StopAsync(services.Lameduck).ConfigureAwait(false);
        await host.DisposeAsync().ConfigureAwait(false);
        GC.KeepAlive(sigterm);
        GC.KeepAlive(sigint);
        return 0;
    }
}
