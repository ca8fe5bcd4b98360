using System.Diagnostics;
using System.Text.Json.Nodes;
using ClusterDns.KubeEmulator;
using k8s.Models;

namespace ClusterDns.EndToEnd.Tests.KubeEmulator;

/// <summary>The real kubectl against the emulator, through a kubeconfig without auth.</summary>
public sealed class KubectlTests : IAsyncLifetime
{
    private const string Kubectl = "/usr/bin/kubectl";
    private KubeApiEmulator _emulator = null!;
    private string _dir = null!;
    private string _kubeconfig = null!;

    public async Task InitializeAsync()
    {
        _emulator = await KubeApiEmulator.StartAsync(new KubeEmulatorOptions());
        ClusterFixtures.AddDemoCluster(_emulator.Store);
        _dir = Directory.CreateTempSubdirectory("kubectl-emulator-").FullName;
        _kubeconfig = Path.Combine(_dir, "kubeconfig");
        await File.WriteAllTextAsync(_kubeconfig, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: emulator
              cluster:
                server: {_emulator.BaseAddress.ToString().TrimEnd('/')}
            users:
            - name: nobody
              user: {"{}"}
            contexts:
            - name: emulator
              context: {"{cluster: emulator, user: nobody, namespace: default}"}
            current-context: emulator
            """);
    }

    public async Task DisposeAsync()
    {
        await _emulator.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(Kubectl) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--kubeconfig");
        psi.ArgumentList.Add(_kubeconfig);
        // A private discovery cache per test run, so nothing is shared with other kubectl users on the machine.
        psi.ArgumentList.Add("--cache-dir");
        psi.ArgumentList.Add(Path.Combine(_dir, "cache"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("kubectl did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not finish in 30 s");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private async Task<string> OkAsync(params string[] args)
    {
        var (code, output, err) = await RunAsync(args);
        Assert.True(code == 0, $"kubectl {string.Join(' ', args)} exited {code}: {err}");
        return output;
    }

    private string Manifest(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task GetServicesAllNamespaces_ListsTheDemoServices()
    {
        var output = await OkAsync("get", "svc", "-A");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("NAMESPACE", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("kube-system", StringComparison.Ordinal) && l.Contains("kube-dns") && l.Contains("10.96.0.10") && l.Contains("53/UDP,53/TCP,9153/TCP"));
        Assert.Contains(lines, l => l.Contains("nginx-service") && l.Contains("10.96.100.10"));
        Assert.Contains(lines, l => l.Contains("search-engine") && l.Contains("ExternalName") && l.Contains("www.example.com"));
        Assert.Contains(lines, l => l.Contains("dual") && l.Contains("10.96.100.20,fd00:10:96::20"));
        Assert.Contains(lines, l => l.StartsWith("demo", StringComparison.Ordinal) && l.Contains("api"));
    }

    [Fact]
    public async Task CreateThenGetJson_ShowsTheServiceWithAnAllocatedClusterIp()
    {
        var file = Manifest("created.yaml", """
            apiVersion: v1
            kind: Service
            metadata:
              name: created
              labels: {app: created}
            spec:
              selector: {app: created}
              ports:
              - {name: http, port: 80}
            """);
        Assert.Contains("service/created created", await OkAsync("create", "-f", file));
        var json = JsonNode.Parse(await OkAsync("get", "svc", "created", "-o", "json"))!;
        var ip = (string?)json["spec"]!["clusterIP"];
        Assert.StartsWith("10.96.", ip);
        Assert.Equal(ip, _emulator.Store.Get<V1Service>("default", "created")!.Spec.ClusterIP);
        Assert.Equal("ClusterIP", (string?)json["spec"]!["type"]);

        var (code, _, err) = await RunAsync("create", "-f", file);
        Assert.NotEqual(0, code);
        Assert.Contains("AlreadyExists", err);
    }

    [Fact]
    public async Task ApplyTwice_CreatesThenModifiesLabelAndPort()
    {
        var v1 = Manifest("applied-v1.yaml", """
            apiVersion: v1
            kind: Service
            metadata:
              name: applied
              labels: {app: applied}
            spec:
              selector: {app: applied}
              ports:
              - {name: http, port: 80}
            """);
        var v2 = Manifest("applied-v2.yaml", """
            apiVersion: v1
            kind: Service
            metadata:
              name: applied
              labels: {app: applied, tier: web}
            spec:
              selector: {app: applied}
              ports:
              - {name: http, port: 8080}
            """);
        Assert.Contains("service/applied created", await OkAsync("apply", "-f", v1));
        var ip = _emulator.Store.Get<V1Service>("default", "applied")!.Spec.ClusterIP;
        Assert.Contains("service/applied configured", await OkAsync("apply", "-f", v2));
        var svc = _emulator.Store.Get<V1Service>("default", "applied")!;
        Assert.Equal("web", svc.Metadata.Labels["tier"]);
        Assert.Equal([8080], svc.Spec.Ports.Select(p => p.Port));
        Assert.Equal(ip, svc.Spec.ClusterIP);
        Assert.Contains("service/applied unchanged", await OkAsync("apply", "-f", v2));
    }

    [Fact]
    public async Task Label_ChangesLabelsInTheStore()
    {
        Assert.Contains("service/nginx-service labeled", await OkAsync("label", "svc", "nginx-service", "foo=bar"));
        Assert.Equal("bar", _emulator.Store.Get<V1Service>("default", "nginx-service")!.Metadata.Labels["foo"]);
        await OkAsync("label", "svc", "nginx-service", "foo-");
        Assert.False(_emulator.Store.Get<V1Service>("default", "nginx-service")!.Metadata.Labels.ContainsKey("foo"));
        var selected = await OkAsync("get", "svc", "-l", "app=nginx", "-o", "name");
        Assert.Equal("service/nginx-service", selected.Trim());
    }

    [Fact]
    public async Task Delete_RemovesTheService()
    {
        Assert.Contains("service \"web\" deleted", await OkAsync("delete", "svc", "web"));
        Assert.Null(_emulator.Store.Get<V1Service>("default", "web"));
        var (code, _, err) = await RunAsync("get", "svc", "web");
        Assert.NotEqual(0, code);
        Assert.Contains("NotFound", err);
    }

    [Fact]
    public async Task GetEndpointSlices_ListsTheDemoSlices()
    {
        var output = await OkAsync("get", "endpointslices", "-n", "default");
        Assert.Contains(output.Split('\n'), l => l.StartsWith("nginx-service-", StringComparison.Ordinal) && l.Contains("10.244.1.10,10.244.1.11"));
        Assert.Contains(output.Split('\n'), l => l.Contains("IPv6") && l.Contains("fd00:10:244:1::30"));
        var json = JsonNode.Parse(await OkAsync("get", "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=web", "-o", "json"))!;
        var hostnames = json["items"]!.AsArray().Single()!["endpoints"]!.AsArray().Select(e => (string?)e!["hostname"]);
        Assert.Equal(["web-0", "web-1"], hostnames);
    }
}
