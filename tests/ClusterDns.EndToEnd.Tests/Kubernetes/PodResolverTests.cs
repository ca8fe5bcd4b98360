using System.Diagnostics;
using ClusterDns.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ClusterDns.EndToEnd.Tests.Kubernetes;

/// <summary>
/// A pod's view through glibc: a network namespace whose /etc/netns/NAME/resolv.conf is a pod's (the cluster search
/// path, ndots:5), with the API emulator and the built ClusterDns binary running inside it on 127.0.0.1:53, and
/// <c>getent</c> resolving short Service names the way an application in a pod would.
/// </summary>
public sealed class PodResolverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int ApiPort = 16443;
    private readonly string _namespace = "cdns-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<Process> _processes = [];
    private string? _workDirectory;
    private bool _namespaceCreated;
    private string? _skipReason;

    public async Task InitializeAsync()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" && !IsRoot())
        {
            _skipReason = "needs root on Linux (ip netns)";
            return;
        }
        if (!ProcessRunner.IsInstalled("ip") || !ProcessRunner.IsInstalled("getent"))
        {
            _skipReason = "needs ip (iproute2) and getent";
            return;
        }
        var add = await ProcessRunner.RunAsync("ip", ["netns", "add", _namespace]);
        if (add.ExitCode != 0)
        {
            _skipReason = "ip netns add failed: " + add.Error.Trim();
            return;
        }
        _namespaceCreated = true;
        await RunCheckedAsync("ip", ["-n", _namespace, "link", "set", "lo", "up"]);
        var netnsEtc = Path.Combine("/etc/netns", _namespace);
        Directory.CreateDirectory(netnsEtc);
        await File.WriteAllTextAsync(Path.Combine(netnsEtc, "resolv.conf"),
            "nameserver 127.0.0.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 attempts:1 timeout:2\n");

        _workDirectory = Path.Combine(Path.GetTempPath(), "clusterdns-e2e-" + _namespace);
        Directory.CreateDirectory(_workDirectory);
        var corefile = Path.Combine(_workDirectory, "Corefile");
        await File.WriteAllTextAsync(corefile,
            $".:53 {{\n    kubernetes cluster.local in-addr.arpa ip6.arpa {{\n        endpoint http://127.0.0.1:{ApiPort}\n        pods insecure\n    }}\n}}\n");

        Start(BuildOutput("ClusterDns.KubeEmulator", "ClusterDns.KubeEmulator.dll"), "--demo", "--port", ApiPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Start(BuildOutput("ClusterDns", "ClusterDns.dll"), "-conf", corefile);
    }

    private static bool IsRoot() => File.Exists("/proc/self/status")
        && File.ReadLines("/proc/self/status").Any(line => line.StartsWith("Uid:", StringComparison.Ordinal) && line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0");

    /// <summary>The project's own build output, in the configuration these tests were built in.</summary>
    private static string BuildOutput(string project, string dll)
    {
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(RepositoryPaths.Root, "src", project, "bin", configuration, "net10.0", dll);
        if (!File.Exists(path)) throw new FileNotFoundException($"build {project} first", path);
        return path;
    }

    private void Start(string dll, params string[] arguments)
    {
        var info = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["netns", "exec", _namespace, "dotnet", dll, .. arguments]) info.ArgumentList.Add(argument);
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + dll);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Log(Path.GetFileName(dll) + ": " + e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Log(Path.GetFileName(dll) + "! " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
    }

    private void Log(string line)
    {
        try { output.WriteLine(line); } catch (InvalidOperationException) { }
    }

    private async Task RunCheckedAsync(string file, string[] arguments)
    {
        var result = await ProcessRunner.RunAsync(file, arguments);
        Assert.True(result.ExitCode == 0, $"{file} {string.Join(' ', arguments)}: {result.Error}");
    }

    private Task<ProcessRunner.Result> GetentAsync(string database, string name) =>
        ProcessRunner.RunAsync("ip", ["netns", "exec", _namespace, "getent", database, name], TimeSpan.FromSeconds(30));

    /// <summary>getent until it succeeds (the server and the emulator start in the background), within a deadline.</summary>
    private async Task<ProcessRunner.Result> GetentUntilFoundAsync(string database, string name)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var result = await GetentAsync(database, name);
            if (result.ExitCode == 0 || DateTime.UtcNow > deadline) return result;
            await Task.Delay(250);
        }
    }

    private static string[] AddressesOf(string getentOutput) =>
        [.. getentOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ', 2)[0]).Distinct().Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Short_service_names_resolve_through_the_pod_search_path()
    {
        if (_skipReason is not null)
        {
            output.WriteLine("NOT RUN: " + _skipReason);
            return;
        }

        var shortName = await GetentUntilFoundAsync("hosts", "nginx-service");
        Assert.True(shortName.ExitCode == 0, "getent hosts nginx-service failed: " + shortName.Error);
        Assert.Equal(["10.96.100.10"], AddressesOf(shortName.Output));
        Assert.Contains("nginx-service.default.svc.cluster.local", shortName.Output, StringComparison.Ordinal);

        var withNamespace = await GetentAsync("hosts", "nginx-service.default");
        Assert.Equal(0, withNamespace.ExitCode);
        Assert.Equal(["10.96.100.10"], AddressesOf(withNamespace.Output));

        var otherNamespace = await GetentAsync("hosts", "api.demo");
        Assert.Equal(0, otherNamespace.ExitCode);
        Assert.Equal(["10.96.200.10"], AddressesOf(otherNamespace.Output));

        var headless = await GetentAsync("ahosts", "web");
        Assert.Equal(0, headless.ExitCode);
        Assert.Equal(["10.244.1.20", "10.244.1.21"], AddressesOf(headless.Output));

        var dual = await GetentAsync("ahosts", "dual");
        Assert.Equal(0, dual.ExitCode);
        Assert.Equal(["10.96.100.20", "fd00:10:96::20"], AddressesOf(dual.Output));

        var missing = await GetentAsync("hosts", "no-such-service");
        Assert.NotEqual(0, missing.ExitCode);
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
