using System.Diagnostics;
using System.Globalization;
using ClusterDns.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ClusterDns.EndToEnd.Tests.Kubernetes;

/// <summary>
/// autopath as a Pod sees it: glibc's <c>getent</c> in a network namespace with a Pod's resolv.conf (search path,
/// ndots:5), the emulator holding a Pod whose IP is the namespace's 127.0.0.1 (the address glibc sends from), and
/// the built server counting what it receives (coredns_dns_requests_total). One external lookup, once with
/// autopath and once without: the same addresses, and far fewer queries with it.
/// </summary>
public sealed class AutoPathPodResolverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int ApiPort = 20443;
    private const int MetricsPort = 20153;
    private const string PodFixture = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: client
          namespace: default
        spec:
          containers:
          - name: c
            image: busybox
        status:
          phase: Running
          podIP: 127.0.0.1
          podIPs:
          - ip: 127.0.0.1
        """;

    private readonly string _namespace = "cdns-ap-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<Process> _processes = [];
    private string? _workDirectory;
    private bool _namespaceCreated;
    private string? _skipReason;

    public async Task InitializeAsync()
    {
        if (!OperatingSystem.IsLinux() || !IsRoot())
        {
            _skipReason = "needs root on Linux (ip netns)";
            return;
        }
        if (!ProcessRunner.IsInstalled("ip") || !ProcessRunner.IsInstalled("getent") || !ProcessRunner.IsInstalled("curl"))
        {
            _skipReason = "needs ip (iproute2), getent and curl";
            return;
        }
        var add = await ProcessRunner.RunAsync("ip", ["netns", "add", _namespace]);
        if (add.ExitCode != 0)
        {
            _skipReason = "ip netns add failed: " + add.Error.Trim();
            return;
        }
        _namespaceCreated = true;
        var up = await ProcessRunner.RunAsync("ip", ["-n", _namespace, "link", "set", "lo", "up"]);
        Assert.True(up.ExitCode == 0, up.Error);
        var netnsEtc = Path.Combine("/etc/netns", _namespace);
        Directory.CreateDirectory(netnsEtc);
        await File.WriteAllTextAsync(Path.Combine(netnsEtc, "resolv.conf"),
            "nameserver 127.0.0.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 attempts:1 timeout:2\n");

        _workDirectory = Path.Combine(Path.GetTempPath(), "clusterdns-e2e-" + _namespace);
        Directory.CreateDirectory(_workDirectory);
        var fixture = Path.Combine(_workDirectory, "pod.yaml");
        await File.WriteAllTextAsync(fixture, PodFixture);
        Start(BuildOutput("ClusterDns.KubeEmulator", "ClusterDns.KubeEmulator.dll"), "--demo", "--fixture", fixture,
            "--port", ApiPort.ToString(CultureInfo.InvariantCulture));
    }

    private static bool IsRoot() => File.Exists("/proc/self/status")
        && File.ReadLines("/proc/self/status").Any(line => line.StartsWith("Uid:", StringComparison.Ordinal) && line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0");

    private static string BuildOutput(string project, string dll)
    {
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(RepositoryPaths.Root, "src", project, "bin", configuration, "net10.0", dll);
        if (!File.Exists(path)) throw new FileNotFoundException($"build {project} first", path);
        return path;
    }

    private Process Start(string dll, params string[] arguments)
    {
        var info = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["netns", "exec", _namespace, "dotnet", dll, .. arguments]) info.ArgumentList.Add(argument);
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + dll);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Log(Path.GetFileName(dll) + ": " + e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Log(Path.GetFileName(dll) + "! " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
    }

    private void Log(string line)
    {
        try { output.WriteLine(line); } catch (InvalidOperationException) { }
    }

    private static string Corefile(bool autopath) => $$"""
        .:53 {
            prometheus 127.0.0.1:{{MetricsPort}}
            cache 30
            {{(autopath ? "autopath @kubernetes" : "")}}
            hosts {
                192.0.2.7 external.example
                2001:db8::7 external.example
                fallthrough
            }
            kubernetes cluster.local in-addr.arpa ip6.arpa {
                endpoint http://127.0.0.1:{{ApiPort}}
                pods verified
            }
        }
        """;

    private Task<ProcessRunner.Result> InNamespaceAsync(params string[] command) =>
        ProcessRunner.RunAsync("ip", ["netns", "exec", _namespace, .. command], TimeSpan.FromSeconds(30));

    /// <summary>Every query the server has received so far: the sum of coredns_dns_requests_total.</summary>
    private async Task<double> RequestsAsync()
    {
        var metrics = await InNamespaceAsync("curl", "-sf", $"http://127.0.0.1:{MetricsPort}/metrics");
        Assert.True(metrics.ExitCode == 0, "metrics: " + metrics.Error);
        double total = 0;
        foreach (var line in metrics.Output.Split('\n'))
        {
            if (!line.StartsWith("coredns_dns_requests_total{", StringComparison.Ordinal)) continue;
            total += double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }
        return total;
    }

    /// <summary>Runs a server with or without autopath; returns the addresses and the queries of one external lookup.</summary>
    private async Task<(string[] Addresses, double Queries)> LookUpExternalNameAsync(bool autopath)
    {
        var corefile = Path.Combine(_workDirectory!, autopath ? "Corefile.autopath" : "Corefile.plain");
        await File.WriteAllTextAsync(corefile, Corefile(autopath));
        var server = Start(BuildOutput("ClusterDns", "ClusterDns.dll"), "-conf", corefile);
        try
        {
            // Serving and synced (the Pod informer too: cluster names are SERVFAIL until every informer listed).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while ((await InNamespaceAsync("getent", "hosts", "nginx-service")).ExitCode != 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the server did not start answering");
                await Task.Delay(250);
            }
            var before = await RequestsAsync();
            var lookup = await InNamespaceAsync("getent", "ahosts", "external.example");
            var queries = await RequestsAsync() - before;
            Assert.True(lookup.ExitCode == 0, "getent ahosts external.example: " + lookup.Error);
            string[] addresses = [.. lookup.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(line => line.Split(' ', 2)[0]).Distinct().Order(StringComparer.Ordinal)];
            return (addresses, queries);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task One_external_lookup_costs_one_query_per_address_type_with_autopath()
    {
        if (_skipReason is not null)
        {
            output.WriteLine("NOT RUN: " + _skipReason);
            return;
        }

        var plain = await LookUpExternalNameAsync(autopath: false);
        var autopath = await LookUpExternalNameAsync(autopath: true);
        output.WriteLine($"queries for one getent ahosts external.example: {plain.Queries} without autopath, {autopath.Queries} with");

        Assert.Equal(["192.0.2.7", "2001:db8::7"], plain.Addresses);
        Assert.Equal(plain.Addresses, autopath.Addresses);
        Assert.Equal(2, autopath.Queries); // A and AAAA of external.example.default.svc.cluster.local, nothing more
        Assert.True(plain.Queries > autopath.Queries, $"{plain.Queries} queries without autopath, {autopath.Queries} with");
    }

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                }
            }
            catch (Exception exception) when (exception is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
            }
            process.Dispose();
        }
        if (_namespaceCreated)
        {
            await ProcessRunner.RunAsync("ip", ["netns", "delete", _namespace]);
            try { Directory.Delete(Path.Combine("/etc/netns", _namespace), recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        if (_workDirectory is not null)
        {
            try { Directory.Delete(_workDirectory, recursive: true); } catch (IOException) { }
        }
    }
}
