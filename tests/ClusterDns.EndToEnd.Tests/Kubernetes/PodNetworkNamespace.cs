using System.Diagnostics;
using ClusterDns.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ClusterDns.EndToEnd.Tests.Kubernetes;

/// <summary>
/// A network namespace made to look like a pod's: only its own loopback, and /etc/netns/NAME/resolv.conf with the pod
/// search path and ndots:5, so glibc inside it resolves as an application in a pod does. Programs started in it are
/// killed by their process, and the namespace is deleted, on dispose.
/// </summary>
public sealed class PodNetworkNamespace : IAsyncDisposable
{
    public const string ResolvConf = "nameserver 127.0.0.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 attempts:1 timeout:2\n";

    private readonly string _name;
    private readonly ITestOutputHelper _output;
    private readonly List<Process> _processes = [];

    private PodNetworkNamespace(string name, string workDirectory, ITestOutputHelper output)
    {
        _name = name;
        WorkDirectory = workDirectory;
        _output = output;
    }

    /// <summary>A folder for the test's Corefiles and fixtures, deleted with the namespace.</summary>
    public string WorkDirectory { get; }

    /// <summary>The namespace, or why it cannot be made here (not root, no iproute2 or one of <paramref name="tools"/>).</summary>
    public static async Task<(PodNetworkNamespace? Namespace, string? SkipReason)> CreateAsync(string prefix, ITestOutputHelper output, params string[] tools)
    {
        if (!OperatingSystem.IsLinux() || !IsRoot()) return (null, "needs root on Linux (ip netns)");
        foreach (var tool in (string[])["ip", "getent", .. tools])
        {
            if (!ProcessRunner.IsInstalled(tool)) return (null, $"needs {tool}");
        }
        var name = prefix + Guid.NewGuid().ToString("N")[..8];
        var add = await ProcessRunner.RunAsync("ip", ["netns", "add", name]);
        if (add.ExitCode != 0) return (null, "ip netns add failed: " + add.Error.Trim());
        var workDirectory = Path.Combine(Path.GetTempPath(), "clusterdns-e2e-" + name);
        Directory.CreateDirectory(workDirectory);
        var created = new PodNetworkNamespace(name, workDirectory, output);
        var up = await ProcessRunner.RunAsync("ip", ["-n", name, "link", "set", "lo", "up"]);
        Assert.True(up.ExitCode == 0, "ip link set lo up: " + up.Error);
        var netnsEtc = Path.Combine("/etc/netns", name);
        Directory.CreateDirectory(netnsEtc);
        await File.WriteAllTextAsync(Path.Combine(netnsEtc, "resolv.conf"), ResolvConf);
        return (created, null);
    }

    private static bool IsRoot() => File.Exists("/proc/self/status")
        && File.ReadLines("/proc/self/status").Any(line => line.StartsWith("Uid:", StringComparison.Ordinal) && line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0");

    /// <summary>The project's own build output, in the configuration these tests were built in.</summary>
    public static string BuildOutput(string project, string dll)
    {
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(RepositoryPaths.Root, "src", project, "bin", configuration, "net10.0", dll);
        if (!File.Exists(path)) throw new FileNotFoundException($"build {project} first", path);
        return path;
    }

    /// <summary>Starts <c>dotnet DLL ARGS</c> inside the namespace, its output going to the test log.</summary>
    public Process StartDotnet(string dll, params string[] arguments)
    {
        var info = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["netns", "exec", _name, "dotnet", dll, .. arguments]) info.ArgumentList.Add(argument);
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
        try { _output.WriteLine(line); } catch (InvalidOperationException) { }
    }

    /// <summary>Runs a command inside the namespace (getent, curl) to completion.</summary>
    public Task<ProcessRunner.Result> RunAsync(params string[] command) =>
        ProcessRunner.RunAsync("ip", ["netns", "exec", _name, .. command], TimeSpan.FromSeconds(30));

    /// <summary>The distinct addresses of <c>getent hosts|ahosts</c> output, sorted.</summary>
    public static string[] AddressesOf(string getentOutput) =>
        [.. getentOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ', 2)[0]).Distinct().Order(StringComparer.Ordinal)];

    public async ValueTask DisposeAsync()
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
        await ProcessRunner.RunAsync("ip", ["netns", "delete", _name]);
        try { Directory.Delete(Path.Combine("/etc/netns", _name), recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        try { Directory.Delete(WorkDirectory, recursive: true); } catch (IOException) { }
    }
}
