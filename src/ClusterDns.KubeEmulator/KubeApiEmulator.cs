using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ClusterDns.KubeEmulator;

/// <summary>
/// A Kubernetes API server emulator over HTTP (Kestrel, JSON only) backed by a <see cref="ClusterStore"/>.
/// Stopping cuts every open watch; restarting listens again on the same port with the same store, so clients
/// see an API outage and then resume their watches from their last resourceVersion.
/// </summary>
public sealed class KubeApiEmulator : IAsyncDisposable
{
    private readonly KubeEmulatorOptions _options;
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private WebApplication? _app;
    private CancellationTokenSource _stopping = new();
    private int _port;

    private KubeApiEmulator(KubeEmulatorOptions options)
    {
        _options = options;
        _port = options.Port;
        Store = new ClusterStore(options.HistoryLimit);
    }

    /// <summary>The objects served; change them here and watchers see the events.</summary>
    public ClusterStore Store { get; }

    /// <summary>http://ADDRESS:PORT/ of the listener (https:// with a server certificate).</summary>
    public Uri BaseAddress
    {
        get
        {
            var host = IPAddress.TryParse(_options.Address, out var a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                ? $"[{_options.Address}]"
                : _options.Address;
            var scheme = _options.ServerCertificate is null ? "http" : "https";
            return new Uri($"{scheme}://{host}:{_port}/");
        }
    }

    /// <summary>Whether the HTTP listener is up.</summary>
    public bool IsRunning => _app is not null;

    public static async Task<KubeApiEmulator> StartAsync(KubeEmulatorOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.BookmarkInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "BookmarkInterval must be positive");
        if (options.HistoryLimit < 1) throw new ArgumentOutOfRangeException(nameof(options), "HistoryLimit must be at least 1");
        var emulator = new KubeApiEmulator(options);
        await emulator.StartListenerAsync(ct).ConfigureAwait(false);
        return emulator;
    }

    /// <summary>Stops listening and cuts every open watch; the store is kept.</summary>
    public async Task StopAsync()
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            await StopListenerAsync().ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Stops (if running) and listens again on the same port with the same store.</summary>
    public async Task RestartAsync()
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            await StopListenerAsync().ConfigureAwait(false);
            await StartListenerAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _lifecycle.Dispose();
    }

    private async Task StartListenerAsync(CancellationToken ct)
    {
        if (_app is not null) return;
        // No appsettings reload: its watcher walks the whole working directory (a repository checkout in the
        // benchmark) at every start, and the emulator reads no settings files.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, NoSignalsLifetime>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
        var address = IPAddress.Parse(_options.Address);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(address, _port, listen =>
            {
                if (_options.ServerCertificate is not { } certificate) return;
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = certificate;
                    if (_options.RequiredClientCertificate is not { } required) return;
                    https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                    https.ClientCertificateValidation = (presented, _, _) => presented.RawDataMemory.Span.SequenceEqual(required.RawDataMemory.Span);
                });
            });
            k.Limits.MinResponseDataRate = null;
            k.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
        });
        var app = builder.Build();
        if (_stopping.IsCancellationRequested)
        {
            _stopping.Dispose();
            _stopping = new CancellationTokenSource();
        }
        var handler = new ApiHandler(Store, _options, _stopping.Token, () => BaseAddress);
        app.Run(handler.HandleAsync);
        await app.StartAsync(ct).ConfigureAwait(false);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _port = new Uri(bound).Port;
        _app = app;
    }

    private async Task StopListenerAsync()
    {
        var app = _app;
        if (app is null) return;
        _app = null;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The emulator is hosted inside tests and other programs: it must not take over Ctrl+C or SIGTERM.</summary>
    private sealed class NoSignalsLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
