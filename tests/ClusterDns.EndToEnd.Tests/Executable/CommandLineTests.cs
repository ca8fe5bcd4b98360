using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Pipeline;
using ClusterDns.Tests.Infrastructure;

namespace ClusterDns.EndToEnd.Tests.Executable;

/// <summary>The built ClusterDns.dll as an operator runs it, with CoreDNS's flags.</summary>
public sealed class CommandLineTests
{
    private static readonly string Executable = Path.Combine(AppContext.BaseDirectory, "ClusterDns.dll");

    private static Task<ProcessRunner.Result> RunAsync(params string[] arguments) =>
        ProcessRunner.RunAsync("dotnet", [Executable, .. arguments], TimeSpan.FromSeconds(30));

    [Fact]
    public async Task Plugins_flag_lists_the_plugins_in_execution_order()
    {
        var result = await RunAsync("-plugins");

        Assert.Equal(0, result.ExitCode);
        var listed = result.Output.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("dns.")).Select(l => l[4..]).ToList();
        Assert.Contains("whoami", listed);
        var expected = PluginCatalog.Order.Where(listed.Contains).ToList();
        Assert.Equal(expected, listed);
    }

    [Fact]
    public async Task Version_flag_prints_the_version()
    {
        var result = await RunAsync("-version");

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("ClusterDns-", result.Output);
    }

    [Fact]
    public async Task Unknown_flag_fails_like_go_flag_parsing()
    {
        var result = await RunAsync("-nosuchflag");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("flag provided but not defined", result.Error);
    }

    /// <summary>Runs the executable with <c>-conf</c> pointing at <paramref name="text"/> written to a temporary Corefile.</summary>
    private static async Task<(ProcessRunner.Result Result, string Corefile)> RunWithCorefileAsync(string text)
    {
        var directory = Directory.CreateTempSubdirectory("clusterdns-cli-");
        try
        {
            var corefile = Path.Combine(directory.FullName, "Corefile");
            await File.WriteAllTextAsync(corefile, text);
            return (await RunAsync("-conf", corefile), corefile);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Corefile_mistake_exits_non_zero_with_file_line_and_directive_before_binding_a_port()
    {
        var port = FreeUdpPort();

        var (result, corefile) = await RunWithCorefileAsync($".:{port} {{\n    whoami\n    bogus 1\n}}\n");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"{corefile}:3", result.Error);
        Assert.Contains("bogus", result.Error);
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Any, port)); // the port was never taken
    }

    [Fact]
    public async Task A_health_address_already_in_use_exits_1_naming_the_address()
    {
        using var occupant = new TcpListener(IPAddress.Any, 0);
        occupant.Start();
        var taken = ((IPEndPoint)occupant.LocalEndpoint).Port;

        var (result, _) = await RunWithCorefileAsync($".:{FreeUdpPort()} {{\n    health :{taken}\n    whoami\n}}\n");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"listen tcp :{taken}:", result.Error);
        Assert.DoesNotContain("Unhandled exception", result.Error);
    }

    [Fact]
    public async Task Conf_and_dns_port_flags_serve_the_corefile_on_the_given_port()
    {
        var port = FreeUdpPort();
        var directory = Directory.CreateTempSubdirectory("clusterdns-cli-");
        var corefile = Path.Combine(directory.FullName, "Corefile");
        await File.WriteAllTextAsync(corefile, ". {\n    whoami\n}\n");
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet", [Executable, "-conf", corefile, "-dns.port", port.ToString(), "-quiet"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            var response = await ExecutableProcess.QueryUntilAnsweredAsync(new IPEndPoint(IPAddress.Loopback, port), "cli.example.");
            Assert.NotNull(response);
            Assert.Equal(Makaretu.Dns.MessageStatus.NoError, response.Status);
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Without_a_corefile_it_serves_whoami_on_the_dns_port()
    {
        var port = FreeUdpPort();
        var directory = Directory.CreateTempSubdirectory("clusterdns-cli-");
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet", [Executable, "-dns.port", port.ToString(), "-quiet"])
        {
            WorkingDirectory = directory.FullName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            var response = await ExecutableProcess.QueryUntilAnsweredAsync(new IPEndPoint(IPAddress.Loopback, port), "default.example.");
            Assert.NotNull(response);
            // whoami answers with the client's address in the additional section.
            Assert.Contains(response.AdditionalRecords, record => record is Makaretu.Dns.ARecord { Address: var address } && address.Equals(IPAddress.Loopback));
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public Task Demo_answers_the_sample_services_through_corefile_example() => AssertDemoServesAsync(Executable);

    /// <summary>What the Dockerfile ships: the README's and the Dockerfile's publish command, then that binary's demo.</summary>
    [Fact]
    public async Task The_published_binary_serves_corefile_example_against_the_emulator()
    {
        var output = Directory.CreateTempSubdirectory("clusterdns-publish-");
        try
        {
            var publish = await ProcessRunner.RunAsync("dotnet", ["publish", Path.Combine(RepositoryPaths.Root, "src", "ClusterDns"), "-c", "Release", "-o", output.FullName],
                TimeSpan.FromMinutes(8));
            Assert.True(publish.ExitCode == 0, publish.Output + publish.Error);

            await AssertDemoServesAsync(Path.Combine(output.FullName, "ClusterDns.dll"));
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Runs <c>-demo</c> (Corefile.example against the emulator with the sample objects) and checks what an operator
    /// checks first: a ClusterIP and a headless answer, /ready, and the metrics page. Both callers live in this
    /// class, so they never hold Corefile.example's fixed HTTP ports at the same time.
    /// </summary>
    private static async Task AssertDemoServesAsync(string executable)
    {
        var port = FreeUdpPort();
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet", [executable, "-demo", "-dns.port", port.ToString()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            var server = new IPEndPoint(IPAddress.Loopback, port);
            Makaretu.Dns.Message? response = null;
            for (var attempt = 0; attempt < 100 && response?.Answers.Count is null or 0; attempt++)
            {
                try
                {
                    response = await DnsTestClient.QueryAsync(server, "nginx-service.default.svc.cluster.local.");
                }
                catch (Exception exception) when (exception is TimeoutException or SocketException)
                {
                    await Task.Delay(200);
                }
            }
            Assert.NotNull(response);
            Assert.Equal("10.96.100.10", Assert.IsType<Makaretu.Dns.ARecord>(Assert.Single(response.Answers)).Address.ToString());
            var headless = await DnsTestClient.QueryAsync(server, "web.default.svc.cluster.local.");
            Assert.Equal(2, headless.Answers.Count);
            using var http = new HttpClient();
            Assert.Equal("OK", await http.GetStringAsync("http://127.0.0.1:8181/ready"));
            Assert.Contains("coredns_build_info{", await http.GetStringAsync("http://127.0.0.1:9153/metrics"));
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    private static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
