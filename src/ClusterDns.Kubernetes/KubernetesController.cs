using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using ClusterDns.Kubernetes.ApiJson;
using ClusterDns.Kubernetes.Informers;
using ClusterDns.Kubernetes.Records;
using ClusterDns.Kubernetes.Store;
using ClusterDns.Server.Wire;
using k8s;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Kubernetes;

/// <summary>
/// The informers and what they feed: reflectors post changes to one queue; a single loop applies them to the compact
/// store, rebuilds the names of just the Services and Pods they touch, and publishes those names to the
/// <see cref="NameIndex"/> the handler reads without locks.
/// </summary>
public sealed class KubernetesController : IReflectorSink<ServiceRecord>, IReflectorSink<EndpointSliceRecord>, IReflectorSink<PodRecord>,
    IReflectorSink<NamespaceRecord>, IAsyncDisposable
{
    private const string Services = "services", EndpointSlices = "endpointslices", Pods = "pods", Namespaces = "namespaces";

    private readonly KubernetesOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Channel<Action> _queue = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly NameIndexWriter _writer;
    private readonly ServiceRecordBuilder _serviceBuilder;
    private readonly HashSet<string> _expected = new(StringComparer.Ordinal);
    private readonly HashSet<string> _synced = new(StringComparer.Ordinal);

    // The compact store: touched only by the processing loop.
    private readonly Dictionary<string, ServiceRecord> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EndpointSliceRecord> _slices = new(StringComparer.Ordinal);
    // A Service's slice keys: usually one, so an array, not a set per Service.
    private readonly Dictionary<string, string[]> _slicesByService = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PodRecord> _pods = new(StringComparer.Ordinal);
    private readonly HashSet<string> _namespaces = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _servicesPerNamespace = new(StringComparer.Ordinal);
    // What each Service, Pod and namespace contributes to the index, by its store key (no second key string per owner).
    private readonly Dictionary<string, NameOwner> _serviceOwners = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NameOwner> _podOwners = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NameOwner> _namespaceOwners = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirtyServices = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirtyPods = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirtyNamespaces = new(StringComparer.Ordinal);
    private readonly List<(DateTimeOffset Trigger, string ServiceKey)> _programming = [];
    private readonly NameOwner _staticOwner = new();

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly TaskCompletionSource _syncedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ApiConnection? _api;
    private ZoneRecords[] _zoneRecords;
    private long _version;
    private uint _serial;
    private long _startTimestamp;

    public KubernetesController(KubernetesOptions options, ILoggerFactory loggerFactory, TimeProvider time, Random random)
    {
        _options = options;
        _logger = loggerFactory.CreateLogger(KubernetesLog.Category);
        _time = time;
        _random = random;
        Index = new NameIndex();
        var zoneWires = new List<byte[]>();
        foreach (var zone in options.Zones) zoneWires.Add(DnsName.Encode(zone));
        _writer = new NameIndexWriter(Index, zoneWires);
        _serviceBuilder = new ServiceRecordBuilder(options);
        _serial = (uint)time.GetUtcNow().ToUnixTimeSeconds();
        _zoneRecords = BuildZoneRecords();
        _expected.Add(Services);
        if (!options.NoEndpoints) _expected.Add(EndpointSlices);
        if (options.WatchPods) _expected.Add(Pods);
        if (options.WatchNamespaces) _expected.Add(Namespaces);
    }

    public NameIndex Index { get; }

    /// <summary>Pod IP to namespace (pods verified only): who a client is, for autopath.</summary>
    public PodAddressIndex PodAddresses { get; } = new();

    /// <summary>Every informer has listed once and its names are published.</summary>
    public bool IsSynced
    {
        get => Volatile.Read(ref _isSynced);
        private set => Volatile.Write(ref _isSynced, value);
    }

    private bool _isSynced;

    public Task Synced => _syncedSignal.Task;

    /// <summary>Changes whenever a published answer may have changed.</summary>
    public long Version => Interlocked.Read(ref _version);

    public ZoneRecords[] ZoneRecords => Volatile.Read(ref _zoneRecords);

    /// <summary>Builds the client and starts the reflectors and the processing loop.</summary>
    public void Start(KubernetesClientConfiguration configuration)
    {
        _startTimestamp = _time.GetTimestamp();
        KubernetesLog.Connecting(_logger, configuration.Host);
        var api = _api = new ApiConnection(configuration);
        var labels = _options.LabelSelector;
        var token = _stop.Token;
        _tasks.Add(Task.Run(() => ProcessAsync(token), token));
        _tasks.Add(StartReflector(api, new ResourceQuery(Services, "api/v1/services", labels), new ServiceReader(), (IReflectorSink<ServiceRecord>)this, token));
        if (!_options.NoEndpoints)
        {
            _tasks.Add(StartReflector(api, new ResourceQuery(EndpointSlices, "apis/discovery.k8s.io/v1/endpointslices", labels),
                new EndpointSliceReader(keepPodNames: _options.EndpointPodNames), (IReflectorSink<EndpointSliceRecord>)this, token));
        }
        if (_options.WatchPods)
        {
            _tasks.Add(StartReflector(api, new ResourceQuery(Pods, "api/v1/pods", null), new PodReader(), (IReflectorSink<PodRecord>)this, token));
        }
        if (_options.WatchNamespaces)
        {
            _tasks.Add(StartReflector(api, new ResourceQuery(Namespaces, "api/v1/namespaces", _options.NamespaceLabelSelector), new NamespaceReader(),
                (IReflectorSink<NamespaceRecord>)this, token));
        }
    }

    private Task StartReflector<TRecord>(ApiConnection api, ResourceQuery query, ApiObjectReader<TRecord> objects, IReflectorSink<TRecord> sink,
        CancellationToken token)
        where TRecord : class
    {
        var reflector = new Reflector<TRecord>(api, query, objects, sink, _time, _random, _logger);
        return Task.Run(() => reflector.RunAsync(token), token);
    }

    /// <summary>How the plugin reaches the API: kubeconfig, else endpoint (+tls), else the executable's default, else in-cluster.</summary>
    public static KubernetesClientConfiguration BuildConfiguration(KubernetesOptions options, KubernetesConnectionDefaults? defaults)
    {
        KubernetesClientConfiguration configuration;
        if (options.Kubeconfig is { } path)
        {
            configuration = KubernetesClientConfiguration.BuildConfigFromConfigFile(path, options.KubeconfigContext);
        }
        else if ((options.Endpoint ?? defaults?.Endpoint) is { } endpoint)
        {
            configuration = new KubernetesClientConfiguration { Host = endpoint };
            if (options.Tls is { } tls)
            {
                configuration.ClientCertificateFilePath = tls.Certificate;
                configuration.ClientKeyFilePath = tls.Key;
                var authorities = new X509Certificate2Collection();
                authorities.ImportFromPemFile(tls.CertificateAuthority);
                configuration.SslCaCerts = authorities;
            }
        }
        else
        {
            // Token and CA from /var/run/secrets/kubernetes.io/serviceaccount; the client's TokenFileAuth re-reads the
            // token file (at most a minute after it rotates).
            configuration = KubernetesClientConfiguration.InClusterConfig();
        }
        // Watches are long-lived streams: the server ends them (timeoutSeconds), not the HTTP client.
        configuration.HttpClientTimeout = Timeout.InfiniteTimeSpan;
        return configuration;
    }

    // ---- sinks: called on the reflectors' tasks; everything is applied on the processing loop ----

    void IReflectorSink<ServiceRecord>.Replace(string resource, Dictionary<string, ServiceRecord> records) => Post(() =>
    {
        foreach (var key in _services.Keys.ToList())
        {
            if (!records.ContainsKey(key)) RemoveService(key);
        }
        foreach (var (key, record) in records) SetService(key, record);
        _synced.Add(resource);
    });

    void IReflectorSink<ServiceRecord>.Upsert(string resource, string key, ServiceRecord record) => Post(() => SetService(key, record));

    void IReflectorSink<ServiceRecord>.Delete(string resource, string key) => Post(() => RemoveService(key));

    void IReflectorSink<EndpointSliceRecord>.Replace(string resource, Dictionary<string, EndpointSliceRecord> records) => Post(() =>
    {
        foreach (var key in _slices.Keys.ToList())
        {
            if (!records.ContainsKey(key)) RemoveSlice(key);
        }
        foreach (var (key, record) in records) SetSlice(key, record);
        _synced.Add(resource);
    });

    void IReflectorSink<EndpointSliceRecord>.Upsert(string resource, string key, EndpointSliceRecord record) => Post(() =>
    {
        SetSlice(key, record);
        if (record.LastChangeTriggerTime is { } trigger) _programming.Add((trigger, record.ServiceKey));
    });

    void IReflectorSink<EndpointSliceRecord>.Delete(string resource, string key) => Post(() => RemoveSlice(key));

    void IReflectorSink<PodRecord>.Replace(string resource, Dictionary<string, PodRecord> records) => Post(() =>
    {
        foreach (var key in _pods.Keys.ToList())
        {
            if (!records.ContainsKey(key)) RemovePod(key);
        }
        foreach (var (key, record) in records)
        {
            _pods[key] = record;
            _dirtyPods.Add(key);
        }
        _synced.Add(resource);
    });

    void IReflectorSink<PodRecord>.Upsert(string resource, string key, PodRecord record) => Post(() =>
    {
        _pods[key] = record;
        _dirtyPods.Add(key);
    });

    void IReflectorSink<PodRecord>.Delete(string resource, string key) => Post(() => RemovePod(key));

    void IReflectorSink<NamespaceRecord>.Replace(string resource, Dictionary<string, NamespaceRecord> records) => Post(() =>
    {
        foreach (var name in _namespaces.ToList())
        {
            if (!records.ContainsKey(name)) SetNamespace(name, present: false);
        }
        foreach (var name in records.Keys) SetNamespace(name, present: true);
        _synced.Add(resource);
    });

    void IReflectorSink<NamespaceRecord>.Upsert(string resource, string key, NamespaceRecord record) => Post(() => SetNamespace(key, present: true));

    void IReflectorSink<NamespaceRecord>.Delete(string resource, string key) => Post(() => SetNamespace(key, present: false));

    private void Post(Action change) => _queue.Writer.TryWrite(change);

    private void SetService(string key, ServiceRecord record)
    {
        if (_services.TryAdd(key, record)) CountNamespace(record.Namespace, +1);
        else _services[key] = record;
        _dirtyServices.Add(key);
    }

    private void RemoveService(string key)
    {
        if (_services.Remove(key, out var old)) CountNamespace(old.Namespace, -1);
        _dirtyServices.Add(key);
    }

    private void CountNamespace(string ns, int delta)
    {
        _servicesPerNamespace.TryGetValue(ns, out var count);
        count += delta;
        if (count <= 0) _servicesPerNamespace.Remove(ns);
        else _servicesPerNamespace[ns] = count;
        if (count == 0 || (count == 1 && delta > 0)) _dirtyNamespaces.Add(ns);
    }

    private void SetSlice(string key, EndpointSliceRecord record)
    {
        if (_slices.TryGetValue(key, out var old) && old.ServiceKey != record.ServiceKey) RemoveSlice(key);
        _slices[key] = record;
        if (!_slicesByService.TryGetValue(record.ServiceKey, out var keys)) _slicesByService[record.ServiceKey] = [key];
        else if (Array.IndexOf(keys, key) < 0) _slicesByService[record.ServiceKey] = [.. keys, key];
        _dirtyServices.Add(record.ServiceKey);
    }

    private void RemoveSlice(string key)
    {
        if (!_slices.Remove(key, out var old)) return;
        if (_slicesByService.TryGetValue(old.ServiceKey, out var keys))
        {
            var rest = Array.FindAll(keys, k => k != key);
            if (rest.Length == 0) _slicesByService.Remove(old.ServiceKey);
            else _slicesByService[old.ServiceKey] = rest;
        }
        _dirtyServices.Add(old.ServiceKey);
    }

    private void RemovePod(string key)
    {
        _pods.Remove(key);
        _dirtyPods.Add(key);
    }

    private void SetNamespace(string name, bool present)
    {
        if (present ? !_namespaces.Add(name) : !_namespaces.Remove(name)) return;
        // Every Service and Pod of the namespace appears or disappears with it.
        foreach (var (key, service) in _services)
        {
            if (service.Namespace == name) _dirtyServices.Add(key);
        }
        foreach (var (key, pod) in _pods)
        {
            if (pod.Namespace == name) _dirtyPods.Add(key);
        }
        _dirtyNamespaces.Add(name);
    }

    private bool Exposed(string ns) => _options.NamespaceAllowed(ns) && (!_options.WatchNamespaces || _namespaces.Contains(ns));

    // ---- the processing loop ----

    private async Task ProcessAsync(CancellationToken cancellationToken)
    {
        var reader = _queue.Reader;
        try
        {
            _writer.SetOwner(_staticOwner, BuildStaticParts());
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // Apply everything queued, then publish once: a burst of events costs one publish.
                while (reader.TryRead(out var change))
                {
                    try
                    {
                        change();
                    }
                    catch (Exception exception) when (exception is not OperationCanceledException)
                    {
                        KubernetesLog.ApplyFailed(_logger, exception);
                    }
                }
                try
                {
                    Flush();
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    KubernetesLog.ApplyFailed(_logger, exception);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void Flush()
    {
        var kubeDnsChanged = _dirtyServices.Contains("kube-system/kube-dns");
        var parts = new List<(byte[] Name, RecordPart Part)>();
        foreach (var key in _dirtyServices)
        {
            parts.Clear();
            if (_services.TryGetValue(key, out var service) && Exposed(service.Namespace))
            {
                try
                {
                    _serviceBuilder.Build(service, SlicesOf(key), OwnerOf(_serviceOwners, key), parts);
                }
                catch (FormatException exception)
                {
                    KubernetesLog.BadObject(_logger, key, exception.Message);
                    parts.Clear();
                }
            }
            SetOwner(_serviceOwners, key, parts);
        }
        foreach (var key in _dirtyPods)
        {
            parts.Clear();
            var found = _pods.TryGetValue(key, out var pod);
            if (_options.Pods == PodMode.Verified && found && Exposed(pod!.Namespace)) BuildPodParts(pod, OwnerOf(_podOwners, key), parts);
            PodAddresses.Set(key, found ? pod : null);
            SetOwner(_podOwners, key, parts);
        }
        foreach (var ns in _dirtyNamespaces)
        {
            parts.Clear();
            // In insecure mode any dashed IP answers in a namespace that exists; <ns>.pod.<zone> marks that it does.
            if (_options.Pods == PodMode.Insecure && Exposed(ns) && (_servicesPerNamespace.ContainsKey(ns) || _namespaces.Contains(ns)))
            {
                var owner = OwnerOf(_namespaceOwners, ns);
                foreach (var zone in _options.ForwardZones) parts.Add((RecordEncoding.Name(DnsName.Encode(zone), ns, "pod"), new RecordPart(owner, 0, [])));
            }
            SetOwner(_namespaceOwners, ns, parts);
        }
        _dirtyServices.Clear();
        _dirtyPods.Clear();
        _dirtyNamespaces.Clear();
        var changed = _writer.Publish();
        if (changed > 0 || kubeDnsChanged)
        {
            var now = (uint)_time.GetUtcNow().ToUnixTimeSeconds();
            _serial = Math.Max(now, _serial);
            Volatile.Write(ref _zoneRecords, BuildZoneRecords());
            Interlocked.Increment(ref _version);
        }
        KubernetesMetrics.Names.Set(_writer.NameCount);
        ObserveProgramming();
        if (!IsSynced && _synced.IsSupersetOf(_expected))
        {
            IsSynced = true;
            KubernetesMetrics.Synced.Set(1);
            KubernetesLog.Synced(_logger, _writer.NameCount, _services.Count, _time.GetElapsedTime(_startTimestamp).TotalMilliseconds);
            Interlocked.Increment(ref _version);
            _syncedSignal.TrySetResult();
            TrimStore();
            ReturnListGarbage();
        }
    }

    /// <summary>
    /// The store's tables grew by doubling while the first lists arrived, and the dirty sets held every key once: trimmed
    /// to what they hold (about 1 MB less at 10,000 Services), they grow again when needed.
    /// </summary>
    private void TrimStore()
    {
        _services.TrimExcess();
        _slices.TrimExcess();
        _slicesByService.TrimExcess();
        _pods.TrimExcess();
        _serviceOwners.TrimExcess();
        _podOwners.TrimExcess();
        _dirtyServices.TrimExcess();
        _dirtyPods.TrimExcess();
        _dirtyNamespaces.TrimExcess();
    }

    /// <summary>
    /// The first list of a large cluster leaves the GC heap larger than what it keeps (the record dictionaries'
    /// growth, the writer's first build of every name); an idle DNS server may not collect again for hours, so that memory would count against
    /// the pod's limit. One aggressive collection gives it back to the OS, once, off the query path.
    /// </summary>
    private static void ReturnListGarbage()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    private void ObserveProgramming()
    {
        if (_programming.Count == 0) return;
        var now = _time.GetUtcNow();
        foreach (var (trigger, serviceKey) in _programming)
        {
            var kind = !_services.TryGetValue(serviceKey, out var service) ? "headless_without_selector"
                : service.Kind == ServiceKind.ClusterIP ? "cluster_ip" : "headless_with_selector";
            var seconds = (now - trigger).TotalSeconds;
            if (seconds >= 0) KubernetesMetrics.DnsProgrammingDuration.WithLabels(kind).Observe(seconds);
        }
        _programming.Clear();
    }

    private List<EndpointSliceRecord> SlicesOf(string serviceKey)
    {
        var list = new List<EndpointSliceRecord>();
        if (_slicesByService.TryGetValue(serviceKey, out var keys))
        {
            foreach (var key in keys) list.Add(_slices[key]);
        }
        return list;
    }

    private static NameOwner OwnerOf(Dictionary<string, NameOwner> owners, string key)
    {
        if (!owners.TryGetValue(key, out var owner)) owners[key] = owner = new NameOwner();
        return owner;
    }

    /// <summary>Gives the owner under <paramref name="key"/> these parts; with none, it leaves the index and the table.</summary>
    private void SetOwner(Dictionary<string, NameOwner> owners, string key, List<(byte[] Name, RecordPart Part)> parts)
    {
        if (parts.Count == 0)
        {
            if (owners.Remove(key, out var old)) _writer.SetOwner(old, parts);
            return;
        }
        _writer.SetOwner(OwnerOf(owners, key), parts);
    }

    private void BuildPodParts(PodRecord pod, object owner, List<(byte[] Name, RecordPart Part)> parts)
    {
        foreach (var zone in _options.ForwardZones)
        {
            var zoneWire = DnsName.Encode(zone);
            foreach (var ip in pod.IPs)
            {
                var type = RecordEncoding.AddressType(ip);
                parts.Add((RecordEncoding.Name(zoneWire, RecordEncoding.Dashed(ip), pod.Namespace, "pod"),
                    new RecordPart(owner, type, RecordEncoding.AtQuestion(type, _options.Ttl, ip))));
            }
        }
    }

    private List<(byte[] Name, RecordPart Part)> BuildStaticParts()
    {
        var parts = new List<(byte[] Name, RecordPart Part)>();
        var version = RecordEncoding.AtQuestion(DnsType.TXT, _options.Ttl, DnsRecordEncoder.TxtData("1.1.0"));
        foreach (var zone in _options.ForwardZones)
        {
            var wire = DnsName.Encode(zone);
            parts.Add((RecordEncoding.Name(wire, "dns-version"), new RecordPart(_staticOwner, DnsType.TXT, version)));
            parts.Add((RecordEncoding.Name(wire, "svc"), new RecordPart(_staticOwner, 0, [])));
            parts.Add((RecordEncoding.Name(wire, "pod"), new RecordPart(_staticOwner, 0, [])));
        }
        return parts;
    }

    private ZoneRecords[] BuildZoneRecords()
    {
        byte[][] nameservers = _services.TryGetValue("kube-system/kube-dns", out var kubeDns) && kubeDns.Kind == ServiceKind.ClusterIP ? kubeDns.ClusterIPs : [];
        var records = new ZoneRecords[_options.Zones.Count];
        for (var i = 0; i < records.Length; i++) records[i] = Records.ZoneRecords.Create(_options.Zones[i], _serial, _options.Ttl, nameservers);
        return records;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _queue.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_tasks).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is OperationCanceledException or TimeoutException)
        {
        }
        _api?.Dispose();
        _stop.Dispose();
    }
}
