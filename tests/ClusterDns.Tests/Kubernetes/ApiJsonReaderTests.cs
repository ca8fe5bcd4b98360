using System.Net;
using System.Text;
using System.Text.Json;
using ClusterDns.KubeEmulator;
using ClusterDns.Kubernetes.ApiJson;
using ClusterDns.Kubernetes.Store;
using ClusterDns.Tests.Infrastructure;
using Makaretu.Dns;
using WatchEventKind = ClusterDns.Kubernetes.ApiJson.WatchEventKind;

namespace ClusterDns.Tests.Kubernetes;

/// <summary>
/// The readers that turn API list pages and watch lines straight into compact records: every field the answers use,
/// in any property order, with unknown fields (objects, arrays, escapes) skipped, and malformed JSON failing with a
/// JsonException that names what was wrong.
/// </summary>
public sealed class ApiJsonReaderTests
{
    /// <summary>Fields a real API object carries that no record uses; each reader must step over all of them.</summary>
    private const string Noise = """
        "status": {"conditions": [{"type": "Ready", "status": "True", "nested": [[1, 2.5e3, null, true], {"a": {"b": []}}]}]},
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:ports": {".": {}}}}}],
        "weird\u0020key": "caf\u00e9 \"quoted\""
        """;

    private static T? ReadOne<T>(ApiObjectReader<T> reader, string json, out ObjectMeta meta) where T : class
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var jsonReader = new Utf8JsonReader(bytes);
        jsonReader.Read();
        meta = new ObjectMeta();
        return reader.Read(ref jsonReader, ref meta);
    }

    private static T? ReadOne<T>(ApiObjectReader<T> reader, string json) where T : class => ReadOne(reader, json, out _);

    private static string[] Ips(byte[][] addresses) => [.. addresses.Select(a => new IPAddress(a).ToString())];

    private static string[] Ips(EndpointRecord endpoint) => [.. Enumerable.Range(0, endpoint.AddressCount).Select(i => new IPAddress(endpoint.Address(i)).ToString())];

    private static string Describe(EndpointRecord endpoint) =>
        $"{string.Join(",", Ips(endpoint))} {endpoint.Hostname ?? "-"} {endpoint.PodName ?? "-"} {endpoint.Ready}";

    [Fact]
    public void A_dual_stack_ClusterIP_service_keeps_every_family_of_clusterIPs_and_its_ports()
    {
        var service = ReadOne(new ServiceReader(), """
            {"spec": {"ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353},
                                {"name": "", "port": 8080, "appProtocol": "http"},
                                {"name": "metrics", "port": 9153, "protocol": "SCTP"}],
                      "clusterIPs": ["10.96.0.10", "fd00::a", "10.96.0.10"], "clusterIP": "10.96.0.10",
                      "selector": {"app": "x"}, "type": "ClusterIP", "sessionAffinity": "None"},
             "kind": "Service", @Noise@,
             "metadata": {"name": "kube-dns", "namespace": "kube-system", "uid": "1", "labels": {"a": "b"}}}
            """.Replace("@Noise@", Noise))!;

        Assert.Equal(("kube-system", "kube-dns", ServiceKind.ClusterIP), (service.Namespace, service.Name, service.Kind));
        Assert.Equal(["10.96.0.10", "fd00::a"], Ips(service.ClusterIPs));
        Assert.Equal([new PortRecord("dns", "udp", 53), new PortRecord(null, "tcp", 8080), new PortRecord("metrics", "sctp", 9153)], service.Ports);
        Assert.Null(service.ExternalName);
        Assert.False(service.PublishNotReadyAddresses);
        Assert.Equal("kube-system/kube-dns", service.Key);
    }

    [Fact]
    public void Without_clusterIPs_the_clusterIP_is_the_address()
    {
        var service = ReadOne(new ServiceReader(), """{"metadata": {"name": "old", "namespace": "default"}, "spec": {"clusterIP": "10.96.1.1", "clusterIPs": null}}""")!;
        Assert.Equal(ServiceKind.ClusterIP, service.Kind);
        Assert.Equal(["10.96.1.1"], Ips(service.ClusterIPs));
    }

    [Theory]
    [InlineData("""{"clusterIP": "None", "clusterIPs": ["None"], "publishNotReadyAddresses": true}""", true)]
    [InlineData("""{"clusterIP": "", "publishNotReadyAddresses": false}""", false)]
    [InlineData("""{"publishNotReadyAddresses": null}""", false)]
    [InlineData("null", false)]
    public void A_service_without_a_cluster_IP_is_headless(string spec, bool publishNotReady)
    {
        var service = ReadOne(new ServiceReader(), """{"metadata": {"name": "db", "namespace": "default"}, "spec": @spec@ }""".Replace("@spec@", spec))!;
        Assert.Equal(ServiceKind.Headless, service.Kind);
        Assert.Empty(service.ClusterIPs);
        Assert.Equal(publishNotReady, service.PublishNotReadyAddresses);
    }

    [Fact]
    public void An_ExternalName_service_keeps_its_target_and_no_addresses()
    {
        var service = ReadOne(new ServiceReader(), """
            {"metadata": {"name": "ext", "namespace": "default"},
             "spec": {"externalName": "example.com", "clusterIP": "10.96.9.9", "type": "ExternalName", "ports": null}}
            """)!;
        Assert.Equal(ServiceKind.ExternalName, service.Kind);
        Assert.Equal("example.com", service.ExternalName);
        Assert.Empty(service.ClusterIPs);
        Assert.Empty(service.Ports);
    }

    [Fact]
    public void Escaped_strings_are_read_as_their_text()
    {
        var service = ReadOne(new ServiceReader(), """
            {"metadata": {"name": "w\u0065b", "namespace": "d\u0065fault"}, "spec": {"clusterIPs": ["10.96.0.\u0031"], "clusterIP": "10.96.0.1",
             "ports": [{"name": "h\u0074tp", "port": 80, "protocol": "T\u0043P"}]}}
            """)!;
        Assert.Equal(("default", "web"), (service.Namespace, service.Name));
        Assert.Equal(["10.96.0.1"], Ips(service.ClusterIPs));
        Assert.Equal([new PortRecord("http", "tcp", 80)], service.Ports);
    }

    [Fact]
    public void An_EndpointSlice_keeps_addresses_readiness_hostnames_pods_ports_and_its_trigger_time()
    {
        var slice = ReadOne(new EndpointSliceReader(), """
            {"endpoints": [
                {"addresses": ["10.244.1.10"], "hostname": "db-0", "targetRef": {"name": "db-0", "kind": "Pod", "namespace": "default"},
                 "conditions": {"serving": true}, "nodeName": "n1", "zone": "a"},
                {"addresses": ["10.244.1.11", "10.244.1.11"], "conditions": {"ready": false, "terminating": true}, "targetRef": {"kind": "Node", "name": "n2"}},
                {"addresses": ["10.244.1.12"], "conditions": {"ready": null}, "hostname": ""},
                {"addresses": [], "conditions": {"ready": true}},
                {"addresses": ["not-an-ip"]}],
             @Noise@,
             "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}, {"name": "all", "port": null}, {"port": 9000, "protocol": "UDP"}],
             "addressType": "IPv4",
             "metadata": {"name": "db-abc", "namespace": "default",
                          "labels": {"endpointslice.kubernetes.io/managed-by": "x", "kubernetes.io/service-name": "db"},
                          "annotations": {"other": "1", "endpoints.kubernetes.io/last-change-trigger-time": "2026-12-02T13:00:00Z"}}}
            """.Replace("@Noise@", Noise))!;

        Assert.Equal(("default", "db-abc", "db", "default/db"), (slice.Namespace, slice.Name, slice.ServiceName, slice.ServiceKey));
        Assert.Equal(["10.244.1.10 db-0 db-0 True", "10.244.1.11 - - False", "10.244.1.12 - - True"], slice.Endpoints.Select(Describe));
        Assert.Equal([new PortRecord("pg", "tcp", 5432), new PortRecord(null, "udp", 9000)], slice.Ports);
        Assert.Equal(new DateTimeOffset(2026, 12, 2, 13, 0, 0, TimeSpan.Zero), slice.LastChangeTriggerTime);
    }

    [Theory]
    [InlineData("""{"kubernetes.io/service-name": "db"}""", "FQDN")]
    [InlineData("""{"app": "db"}""", "IPv4")]
    [InlineData("""{"kubernetes.io/service-name": ""}""", "IPv6")]
    [InlineData("null", "IPv6")]
    public void An_EndpointSlice_without_a_service_or_with_FQDN_addresses_makes_no_record(string labels, string addressType)
    {
        var slice = ReadOne(new EndpointSliceReader(), """
            {"metadata": {"name": "s", "namespace": "default", "labels": @labels@ }, "addressType": "@addressType@",
             "endpoints": [{"addresses": ["10.0.0.1"]}]}
            """.Replace("@labels@", labels).Replace("@addressType@", addressType), out var meta);
        Assert.Null(slice);
        Assert.Equal("default/s", meta.Key);
    }

    [Fact]
    public void Without_endpoint_pod_names_a_slice_keeps_no_pod_names_and_equal_single_ports_are_one_array()
    {
        const string Slice = """
            {"metadata": {"name": "@name@", "namespace": "default", "labels": {"kubernetes.io/service-name": "@name@"}}, "addressType": "IPv4",
             "endpoints": [{"addresses": ["10.0.0.1"], "hostname": "h", "targetRef": {"kind": "Pod", "name": "p"}}],
             "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
            """;
        var reader = new EndpointSliceReader(keepPodNames: false);
        var first = ReadOne(reader, Slice.Replace("@name@", "a"))!;
        var second = ReadOne(reader, Slice.Replace("@name@", "b"))!;
        Assert.Equal("10.0.0.1 h - True", Describe(first.Endpoints[0]));
        Assert.Equal([new PortRecord("http", "tcp", 80)], second.Ports);
        Assert.Same(first.Ports, second.Ports);
    }

    [Fact]
    public void An_endpoint_keeps_every_address_of_its_slices_family_and_no_other()
    {
        var slice = ReadOne(new EndpointSliceReader(), """
            {"endpoints": [{"addresses": ["10.0.0.1", "fd00::1", "10.0.0.2"]}, {"addresses": ["fd00::2"]}, {"addresses": ["10.0.0.3"]}],
             "metadata": {"name": "s", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv4"}
            """)!;
        Assert.Equal(["10.0.0.1,10.0.0.2 - - True", "10.0.0.3 - - True"], slice.Endpoints.Select(Describe));
    }

    [Fact]
    public void An_IPv6_EndpointSlice_keeps_its_addresses()
    {
        var slice = ReadOne(new EndpointSliceReader(), """
            {"metadata": {"name": "s6", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv6",
             "endpoints": [{"addresses": ["fd00:10:244:1::30"]}]}
            """)!;
        Assert.Equal(["fd00:10:244:1::30"], Ips(slice.Endpoints[0]));
        Assert.Null(slice.LastChangeTriggerTime);
    }

    [Theory]
    [InlineData("""{"podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}], "phase": "Running"}""", "10.244.0.5 fd00::5", false)]
    [InlineData("""{"phase": "Pending", "podIP": "10.244.0.6"}""", "10.244.0.6", false)]
    [InlineData("""{"phase": "Succeeded", "podIPs": [{"ip": "10.244.0.7"}]}""", "10.244.0.7", true)]
    [InlineData("""{"phase": "Failed", "podIPs": [], "podIP": "10.244.0.8"}""", "10.244.0.8", true)]
    [InlineData("""{"phase": null}""", "", false)]
    public void A_pod_keeps_its_IPs_and_whether_it_finished(string status, string ips, bool finished)
    {
        var pod = ReadOne(new PodReader(), """
            {"metadata": {"name": "p", "namespace": "apps", "ownerReferences": [{"kind": "ReplicaSet"}]},
             "spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "1"}]}], "nodeName": "n1"}, "status": @status@ }
            """.Replace("@status@", status))!;
        Assert.Equal(("apps", "p", "apps/p"), (pod.Namespace, pod.Name, pod.Key));
        Assert.Equal(ips.Split(' ', StringSplitOptions.RemoveEmptyEntries), Ips(pod.IPs));
        Assert.Equal(finished, pod.Finished);
        Assert.False(pod.HostNetwork);
    }

    [Fact]
    public void A_pod_on_the_host_network_does_not_identify_a_client()
    {
        var pod = ReadOne(new PodReader(), """{"metadata": {"name": "kube-proxy-x", "namespace": "kube-system"}, "spec": {"hostNetwork": true}, "status": {"podIP": "192.168.1.5"}}""")!;
        Assert.True(pod.HostNetwork);
        Assert.False(pod.IdentifiesClient);
    }

    [Fact]
    public void A_namespace_is_its_name_and_keyed_by_it()
    {
        var ns = ReadOne(new NamespaceReader(), """{"kind": "Namespace", "metadata": {"name": "team-a", "labels": {"x": "y"}}, "spec": {"finalizers": ["kubernetes"]}, @Noise@ }""".Replace("@Noise@", Noise), out var meta)!;
        Assert.Equal("team-a", ns.Name);
        Assert.Equal("team-a", meta.Key);
    }

    [Fact]
    public void A_list_page_gives_its_records_continue_token_and_resourceVersion_whatever_the_order()
    {
        var records = new Dictionary<string, ServiceRecord>(StringComparer.Ordinal);
        var page = """
            {"items": [{"metadata": {"name": "a", "namespace": "n1"}, "spec": {"clusterIP": "10.96.0.1"}},
                       {"metadata": {"name": "a", "namespace": "n2"}, "spec": {"clusterIP": "None"}}],
             "kind": "ServiceList", "apiVersion": "v1",
             "metadata": {"remainingItemCount": 7, "continue": "token-1", "resourceVersion": "42"}}
            """u8;

        var (continueToken, resourceVersion) = ApiEvents.ReadPage(page, new ServiceReader(), records);

        Assert.Equal(("token-1", "42"), (continueToken, resourceVersion));
        Assert.Equal(["n1/a", "n2/a"], records.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(ServiceKind.Headless, records["n2/a"].Kind);
    }

    [Fact]
    public void A_list_page_leaves_out_objects_without_a_record()
    {
        var records = new Dictionary<string, EndpointSliceRecord>(StringComparer.Ordinal);
        var (continueToken, resourceVersion) = ApiEvents.ReadPage("""
            {"metadata": {"resourceVersion": "9"}, "items": [{"metadata": {"name": "orphan", "namespace": "x"}, "addressType": "IPv4"}]}
            """u8, new EndpointSliceReader(), records);
        Assert.Null(continueToken);
        Assert.Equal("9", resourceVersion);
        Assert.Empty(records);
    }

    [Fact]
    public void Watch_events_give_the_record_key_and_resourceVersion_with_the_object_before_or_after_the_type()
    {
        var reader = new ServiceReader();
        var added = ApiEvents.ReadWatchEvent("""{"type":"ADDED","object":{"metadata":{"name":"web","namespace":"default","resourceVersion":"11"},"spec":{"clusterIP":"10.96.0.5"}}}"""u8, reader);
        var modified = ApiEvents.ReadWatchEvent("""{"object":{"spec":{"clusterIP":"10.96.0.6"},"metadata":{"resourceVersion":"12","name":"web","namespace":"default"}},"type":"MODIFIED"}"""u8, reader);
        var deleted = ApiEvents.ReadWatchEvent("""{"type":"DELETED","object":{"metadata":{"name":"web","namespace":"default","resourceVersion":"13"},"spec":{"clusterIP":"10.96.0.6"}}}"""u8, reader);
        var bookmark = ApiEvents.ReadWatchEvent("""{"type":"BOOKMARK","object":{"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":"20","annotations":{"k8s.io/initial-events-end":"true"}}}}"""u8, reader);

        Assert.Equal((WatchEventKind.Added, "default/web", "11"), (added.Kind, added.Key, added.ResourceVersion));
        Assert.Equal(["10.96.0.5"], Ips(added.Record!.ClusterIPs));
        Assert.Equal((WatchEventKind.Modified, "default/web", "12"), (modified.Kind, modified.Key, modified.ResourceVersion));
        Assert.Equal(["10.96.0.6"], Ips(modified.Record!.ClusterIPs));
        Assert.Equal((WatchEventKind.Deleted, "default/web", "13"), (deleted.Kind, deleted.Key, deleted.ResourceVersion));
        Assert.Null(deleted.Record);
        Assert.Equal((WatchEventKind.Bookmark, "20"), (bookmark.Kind, bookmark.ResourceVersion));
        Assert.Null(bookmark.Key);
    }

    [Fact]
    public void A_watch_ERROR_event_gives_the_status_code_and_message()
    {
        var error = ApiEvents.ReadWatchEvent("""
            {"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (90)","reason":"Expired","code":410}}
            """u8, new PodReader());
        Assert.Equal(WatchEventKind.Error, error.Kind);
        Assert.Equal(new ApiStatus(410, "Expired", "too old resource version: 5 (90)"), error.Status);
    }

    [Theory]
    [InlineData("""{"type":"ADDED","object":{"metadata":{"name":"p","namespace":"d"},"status":{"podIP":"10.0.0.1"}""", "")]
    [InlineData("""{"type":"ADDED","object":{"metadata":{"name":"p"},"status":{"podIPs":[{"ip":10}]}}}""", "status.podIPs[].ip: expected an IP address string, found a number")]
    [InlineData("""{"type":"ADDED","object":{"metadata":{"name":"p"},"spec":{"hostNetwork":"yes"}}}""", "spec.hostNetwork: expected true or false, found a string")]
    [InlineData("""{"type":"ADDED","object":{"metadata":{"namespace":"d"}}}""", "an object without metadata.name")]
    [InlineData("""{"type":"EXPLODED","object":{}}""", "unknown watch event type \"EXPLODED\"")]
    [InlineData("""{"object":{"metadata":{"name":"p"}}}""", "a watch event without a type")]
    [InlineData("""{"type":"ADDED"}""", "a watch ADDED event without an object")]
    [InlineData("""[{"type":"ADDED"}]""", "watch event: expected an object, found an array")]
    [InlineData("""<html>502 Bad Gateway</html>""", "")]
    public void Malformed_watch_lines_fail_with_a_JsonException_that_says_why(string line, string message)
    {
        var exception = Assert.ThrowsAny<JsonException>(() => ApiEvents.ReadWatchEvent(Encoding.UTF8.GetBytes(line), new PodReader()));
        Assert.Contains(message, exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"metadata": {"resourceVersion": "1"}, "items": [{"metadata": {"name": "a"}, "spec": {"ports": [{"port": "eighty"}]}}]}""", "spec.ports[].port: expected a 32-bit integer, found a string")]
    [InlineData("""{"metadata": {"resourceVersion": "1"}, "items": {"metadata": {}}}""", "items: expected an array, found an object")]
    [InlineData("""{"metadata": {"resourceVersion": "1"}, "items": [null]}""", "service: expected an object, found null")]
    [InlineData("""{"metadata": {"resourceVersion": "1"}, "items": [{"metadata": {"name": "a"}}""", "")]
    [InlineData("", "")]
    public void Malformed_list_pages_fail_with_a_JsonException_that_says_why(string page, string message)
    {
        var records = new Dictionary<string, ServiceRecord>(StringComparer.Ordinal);
        var exception = Assert.ThrowsAny<JsonException>(() => ApiEvents.ReadPage(Encoding.UTF8.GetBytes(page), new ServiceReader(), records));
        Assert.Contains(message, exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"kind":"Status","status":"Failure","message":"services is forbidden: User \"x\" cannot list","reason":"Forbidden","code":403}""",
        "the API server answered HTTP 403: services is forbidden: User \"x\" cannot list")]
    [InlineData("<html>Bad Gateway</html>", "the API server answered HTTP 502")]
    public void A_failed_call_reports_the_status_message(string body, string message)
    {
        var code = body.StartsWith('<') ? 502 : 403;
        var exception = ApiStatusException.From(code, Encoding.UTF8.GetBytes(body));
        Assert.Equal(message, exception.Message);
        Assert.Equal(code, exception.Code);
        Assert.False(exception.IsExpired);
    }

    [Fact]
    public void A_watch_stream_is_cut_into_lines_across_reads_of_any_size()
    {
        using var buffer = new PooledBuffer(16);
        var stream = Encoding.UTF8.GetBytes("{\"a\":1}\n\n{\"long\":\"" + new string('x', 5000) + "\"}\r\n{\"last\":true}");
        var lines = new List<string>();
        for (var offset = 0; offset < stream.Length; offset += 7)
        {
            var chunk = stream.AsSpan(offset, Math.Min(7, stream.Length - offset));
            chunk.CopyTo(buffer.GetFreeMemory(chunk.Length).Span);
            buffer.Advance(chunk.Length);
            while (buffer.TryTakeLine(out var line)) lines.Add(Encoding.UTF8.GetString(line));
        }
        lines.Add(Encoding.UTF8.GetString(buffer.TakeRest()));

        Assert.Equal(["{\"a\":1}", "", "{\"long\":\"" + new string('x', 5000) + "\"}\r", "{\"last\":true}"], lines);
    }

    [Fact]
    public async Task A_list_longer_than_one_page_is_read_in_pages_and_every_service_answers()
    {
        // 3 x 400 Services: three pages of 500 (limit/continue), then the watch from the list's resourceVersion.
        await using var cluster = await KubernetesTestCluster.StartAsync(demo: false);
        ClusterFixtures.AddSyntheticCluster(cluster.Store, 3, 400, 0);
        await using var server = await TestDnsServerFor(cluster);
        var first = await server.QueryAsync("svc-0.ns-0.svc.cluster.local");
        var last = await server.QueryAsync("svc-398.ns-2.svc.cluster.local");
        Assert.Equal([ClusterFixtures.SyntheticServiceIp(0)], KubernetesTestCluster.Addresses(first));
        Assert.Equal([ClusterFixtures.SyntheticServiceIp(2 * 400 + 398)], KubernetesTestCluster.Addresses(last));

        cluster.Store.Apply(KubernetesChangeTests.ClusterIpService("ns-2", "after-list", "10.96.200.1"));
        var added = await WaitForAsync(server, "after-list.ns-2.svc.cluster.local", response => response.Answers.Count > 0);
        Assert.Equal(["10.96.200.1"], KubernetesTestCluster.Addresses(added));
    }

    /// <summary>A second server started after the objects exist, so its first sync lists them all.</summary>
    private static Task<TestDnsServer> TestDnsServerFor(KubernetesTestCluster cluster) =>
        TestDnsServer.StartAsync(KubernetesTestCluster.Corefile(cluster.Emulator.BaseAddress, zones: "cluster.local"));

    private static async Task<Message> WaitForAsync(TestDnsServer server, string name, Func<Message, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var response = await server.QueryAsync(name);
            if (condition(response) || DateTime.UtcNow > deadline) return response;
            await Task.Delay(50);
        }
    }
}
