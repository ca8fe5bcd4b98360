using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;

namespace ClusterDns.EndToEnd.Tests.Operations;

/// <summary>The real executable, stopped by SIGTERM as the kubelet stops a pod, with <c>health { lameduck 2s }</c>.</summary>
public sealed class LameduckProcessTests
{
    private static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>src/ClusterDns/bin/&lt;Configuration&gt;/net10.0/ClusterDns.dll, the configuration being the tests' own.</summary>
    private static string ExecutablePath()
    {
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = framework.Parent!.Name;
        return Path.Combine(RepositoryPaths.Root, "src", "ClusterDns", "bin", configuration, framework.Name, "ClusterDns.dll");
    }

    private static async Task<HttpStatusCode?> StatusAsync(HttpClient client, string url)
    {
        try
        {
            using var response = await client.GetAsync(url);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    [Fact]
    public async Task SIGTERM_keeps_answering_through_lameduck_then_exits_0()
    {
        var executable = ExecutablePath();
        Assert.True(File.Exists(executable), $"{executable} not built");
        int dnsPort = FreePort(), healthPort = FreePort(), readyPort = FreePort();
        var directory = Directory.CreateTempSubdirectory("clusterdns-e2e-");
        var corefile = Path.Combine(directory.FullName, "Corefile");
        await File.WriteAllTextAsync(corefile,
            $".:{dnsPort} {{\n    health 127.0.0.1:{healthPort} {{\n        lameduck 2s\n    }}\n    ready 127.0.0.1:{readyPort}\n    whoami\n}}\n");

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(executable);
        info.ArgumentList.Add("-conf");
        info.ArgumentList.Add(corefile);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (await StatusAsync(http, $"http://127.0.0.1:{readyPort}/ready") != HttpStatusCode.OK)
            {
                Assert.True(DateTime.UtcNow < deadline && !process.HasExited, "the server did not become ready");
                await Task.Delay(100);
            }
            var server = new IPEndPoint(IPAddress.Loopback, dnsPort);
            Assert.Equal(MessageStatus.NoError, (await DnsTestClient.QueryAsync(server, "example.org")).Status);

            var kill = await ProcessRunner.RunAsync("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            Assert.Equal(0, kill.ExitCode);
            var terminated = Stopwatch.StartNew();

            int sent = 0, answered = 0;
            while (terminated.Elapsed < TimeSpan.FromMilliseconds(1500))
            {
                sent++;
                var query = DnsTestClient.BuildQuery("example.org", DnsType.A, id: (ushort)sent);
                if (await DnsTestClient.ExchangeUdpAsync(server, query, TimeSpan.FromSeconds(1)) is not null) answered++;
            }
            Assert.Equal(HttpStatusCode.ServiceUnavailable, await StatusAsync(http, $"http://127.0.0.1:{readyPort}/ready"));
            Assert.True(sent > 10, $"only {sent} queries were sent");
            Assert.Equal(sent, answered);

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await process.WaitForExitAsync(exit.Token);
            Assert.True(terminated.Elapsed >= TimeSpan.FromSeconds(2), $"exited {terminated.Elapsed} after SIGTERM, before the lameduck ended");
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {await errors}");
        }
        finally
        {
            if (!process.HasExited) process.Kill();
            await Task.WhenAny(Task.WhenAll(output, errors), Task.Delay(2000));
            directory.Delete(recursive: true);
        }
    }
}
