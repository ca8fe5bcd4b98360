using System.Text.Json;
using k8s;
using k8s.Models;

namespace ClusterDns.Tests.Deploy;

/// <summary>
/// Renders deploy/ and deploy/overlays/node-local once for all the tests of the class, each on first use, so a
/// kustomization that does not render fails the tests that read it and only those.
/// </summary>
public sealed class DeployRenders
{
    private readonly Lazy<RenderedManifests> _base = new(() => RenderedManifests.Render("deploy"));
    private readonly Lazy<RenderedManifests> _nodeLocal =
        new(() => RenderedManifests.Render(Path.Combine("deploy", "overlays", "node-local")));

    public RenderedManifests Base => _base.Value;

    public RenderedManifests NodeLocal => _nodeLocal.Value;
}

/// <summary>
/// The manifests an operator applies, checked against each other and against the Corefile they carry: a port, path
/// or permission that disagrees with the server's configuration breaks DNS for the whole cluster, and nothing
/// else catches it before the rollout does.
/// </summary>
public sealed class RenderedManifestTests(DeployRenders renders) : IClassFixture<DeployRenders>
{
    private const string Namespace = "kube-system";
    private const string LinkLocal = "169.254.20.10";

    private RenderedManifests Base => renders.Base;

    private RenderedManifests NodeLocal => renders.NodeLocal;

    private V1Deployment Deployment => Base.Single<V1Deployment>("coredns");

    private V1Container Container => Assert.Single(Deployment.Spec.Template.Spec.Containers);

    private SimpleCorefile BaseCorefile => SimpleCorefile.Parse(CorefileOf(Base.Single<V1ConfigMap>("coredns")));

    private CorefileServerBlock RootBlock => BaseCorefile.Block(".:53");

    [Fact]
    public void Base_keeps_the_CoreDNS_add_on_object_names_so_it_replaces_it_one_for_one()
    {
        var identities = Base.Identities().ToHashSet();
        Assert.Contains(("ServiceAccount", Namespace, "coredns"), identities);
        Assert.Contains(("ClusterRole", (string?)null, "system:coredns"), identities);
        Assert.Contains(("ClusterRoleBinding", (string?)null, "system:coredns"), identities);
        Assert.Contains(("ConfigMap", Namespace, "coredns"), identities);
        Assert.Contains(("Deployment", Namespace, "coredns"), identities);
        Assert.Contains(("Service", Namespace, "kube-dns"), identities);
        Assert.All(
            Base.Objects.OfType<IKubernetesObject<V1ObjectMeta>>().Where(o => o.Kind is not ("ClusterRole" or "ClusterRoleBinding")),
            o => Assert.Equal(Namespace, o.Metadata.NamespaceProperty));
        Assert.Equal("kube-dns", Deployment.Metadata.Labels["k8s-app"]);
    }

    [Fact]
    public void ConfigMap_Corefile_is_the_repository_Corefile_example()
    {
        var example = File.ReadAllText(Path.Combine(RenderedManifests.RepositoryRoot, "Corefile.example"));
        var configMap = Base.Single<V1ConfigMap>("coredns");
        Assert.Equal(["Corefile"], configMap.Data.Keys);
        Assert.Equal(example, configMap.Data["Corefile"]);

        // The copy kustomize reads must not drift from the file the rest of the repository (README, tests) uses.
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(RenderedManifests.RepositoryRoot, "Corefile.example")),
            File.ReadAllBytes(Path.Combine(RenderedManifests.RepositoryRoot, "deploy", "base", "Corefile")));
    }

    [Fact]
    public void Service_ports_match_the_container_ports_and_the_Corefile()
    {
        var service = Base.Single<V1Service>("kube-dns");
        var expected = new HashSet<(string, int, string)>
        {
            ("dns", RootBlock.Port, "UDP"),
            ("dns-tcp", RootBlock.Port, "TCP"),
            ("metrics", RootBlock.Directive("prometheus").Address("localhost:9153").Port, "TCP"),
        };
        Assert.Equal(new HashSet<(string, int, string)> { ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP") }, expected);

        Assert.Equal(expected, service.Spec.Ports.Select(p => (p.Name, p.Port, p.Protocol)).ToHashSet());
        Assert.Equal(expected, Container.Ports.Select(p => (p.Name, p.ContainerPort, p.Protocol)).ToHashSet());
        Assert.All(service.Spec.Ports, p => Assert.Equal(p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), p.TargetPort.Value));

        Assert.Equal("10.96.0.10", service.Spec.ClusterIP);
        Assert.Equal(new Dictionary<string, string> { ["k8s-app"] = "kube-dns" }, service.Spec.Selector);
        Assert.All(service.Spec.Selector, s => Assert.Equal(s.Value, Deployment.Spec.Template.Metadata.Labels[s.Key]));
        Assert.Equal("true", service.Metadata.Annotations["prometheus.io/scrape"]);
        Assert.Equal("9153", service.Metadata.Annotations["prometheus.io/port"]);
    }

    [Fact]
    public void Probes_ask_the_health_and_ready_plugins_where_the_Corefile_puts_them()
    {
        var (_, healthPort) = RootBlock.Directive("health").Address(":8080");
        var (_, readyPort) = RootBlock.Directive("ready").Address(":8181");
        Assert.Equal((8080, 8181), (healthPort, readyPort));

        var liveness = Container.LivenessProbe.HttpGet;
        Assert.Equal("/health", liveness.Path);
        Assert.Equal(healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture), liveness.Port.Value);
        Assert.Equal(60, Container.LivenessProbe.InitialDelaySeconds);
        Assert.Equal(5, Container.LivenessProbe.TimeoutSeconds);
        Assert.Equal(5, Container.LivenessProbe.FailureThreshold);

        var readiness = Container.ReadinessProbe.HttpGet;
        Assert.Equal("/ready", readiness.Path);
        Assert.Equal(readyPort.ToString(System.Globalization.CultureInfo.InvariantCulture), readiness.Port.Value);
    }

    [Fact]
    public void Termination_grace_outlasts_the_health_lameduck()
    {
        var lameduck = RootBlock.Directive("health").Child("lameduck");
        Assert.NotNull(lameduck);
        var duration = SimpleCorefile.ParseDuration(Assert.Single(lameduck.Arguments));
        Assert.Equal(TimeSpan.FromSeconds(5), duration);

        var grace = Deployment.Spec.Template.Spec.TerminationGracePeriodSeconds;
        Assert.NotNull(grace);
        Assert.True(TimeSpan.FromSeconds(grace.Value) > duration, $"terminationGracePeriodSeconds {grace} <= lameduck {duration}");
    }

    [Fact]
    public void ClusterRole_grants_exactly_list_and_watch_on_what_the_kubernetes_plugin_reads()
    {
        var role = Base.Single<V1ClusterRole>("system:coredns");
        var granted = new HashSet<(string Group, string Resource, string Verb)>();
        foreach (var rule in role.Rules)
        {
            Assert.Null(rule.NonResourceURLs);
            Assert.Null(rule.ResourceNames);
            foreach (var (group, resource, verb) in
                     from g in rule.ApiGroups from r in rule.Resources from v in rule.Verbs select (g, r, v))
            {
                Assert.True(granted.Add((group, resource, verb)), $"{verb} {group}/{resource} is granted twice");
            }
        }

        var expected = new HashSet<(string, string, string)>(
            from resource in new[] { ("", "services"), ("", "pods"), ("", "namespaces"), ("discovery.k8s.io", "endpointslices") }
            from verb in new[] { "list", "watch" }
            select (resource.Item1, resource.Item2, verb));
        Assert.Equal(expected, granted);
        Assert.Null(role.AggregationRule);

        var binding = Base.Single<V1ClusterRoleBinding>("system:coredns");
        Assert.Equal(("ClusterRole", "system:coredns"), (binding.RoleRef.Kind, binding.RoleRef.Name));
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal(("ServiceAccount", "coredns", Namespace), (subject.Kind, subject.Name, subject.NamespaceProperty));
        Assert.Equal("coredns", Deployment.Spec.Template.Spec.ServiceAccountName);
    }

    [Fact]
    public void Container_runs_unprivileged_with_only_the_right_to_bind_port_53()
    {
        var pod = Deployment.Spec.Template.Spec;
        var security = Container.SecurityContext;
        Assert.True(security.RunAsNonRoot);
        Assert.True(security.ReadOnlyRootFilesystem);
        Assert.False(security.AllowPrivilegeEscalation);
        Assert.NotEqual(true, security.Privileged);
        Assert.Equal(["ALL"], security.Capabilities.Drop);
        Assert.Equal(["NET_BIND_SERVICE"], security.Capabilities.Add);
        Assert.Equal("RuntimeDefault", (security.SeccompProfile ?? pod.SecurityContext.SeccompProfile).Type);

        // A capability added to a non-root container is not effective without file capabilities; the sysctl is
        // what lets the non-root process bind 53.
        var sysctl = Assert.Single(pod.SecurityContext.Sysctls, s => s.Name == "net.ipv4.ip_unprivileged_port_start");
        Assert.True(int.Parse(sysctl.Value, System.Globalization.CultureInfo.InvariantCulture) <= RootBlock.Port);
        Assert.NotEqual(true, pod.HostNetwork);
    }

    [Fact]
    public void Deployment_reads_the_ConfigMap_Corefile_through_a_directory_mount()
    {
        var pod = Deployment.Spec.Template.Spec;
        Assert.Equal(["-conf", "/etc/coredns/Corefile"], Container.Args);

        var volume = Assert.Single(pod.Volumes, v => v.ConfigMap is not null);
        Assert.Equal("coredns", volume.ConfigMap.Name);
        Assert.All(volume.ConfigMap.Items ?? [], item => Assert.Equal(item.Key, item.Path));
        var mount = Assert.Single(Container.VolumeMounts, m => m.Name == volume.Name);
        Assert.Equal("/etc/coredns", mount.MountPath);
        Assert.Null(mount.SubPath); // a subPath mount never sees the kubelet's ..data swap, so reload would not either
        Assert.Equal("clusterdns:latest", Container.Image);
    }

    [Fact]
    public void Deployment_is_scheduled_and_sized_like_the_CoreDNS_add_on()
    {
        var spec = Deployment.Spec;
        var pod = spec.Template.Spec;
        Assert.Equal(2, spec.Replicas);
        Assert.Equal("system-cluster-critical", pod.PriorityClassName);
        Assert.Equal("Default", pod.DnsPolicy);
        Assert.Contains(pod.Tolerations, t => t.Key == "CriticalAddonsOnly" && t.OperatorProperty == "Exists");
        Assert.Contains(pod.Tolerations, t => t.Key == "node-role.kubernetes.io/control-plane" && t.Effect == "NoSchedule");

        var spread = Assert.Single(pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution);
        Assert.Equal("kubernetes.io/hostname", spread.PodAffinityTerm.TopologyKey);
        var expression = Assert.Single(spread.PodAffinityTerm.LabelSelector.MatchExpressions);
        Assert.Equal(("k8s-app", "In", "kube-dns"), (expression.Key, expression.OperatorProperty, Assert.Single(expression.Values)));

        Assert.Equal(new ResourceQuantity("100m"), Container.Resources.Requests["cpu"]);
        Assert.Equal(new ResourceQuantity("100Mi"), Container.Resources.Requests["memory"]);
        Assert.Equal(new ResourceQuantity("300Mi"), Container.Resources.Limits["memory"]);

        var budget = Assert.Single(Base.All<V1PodDisruptionBudget>());
        Assert.Equal("1", budget.Spec.MaxUnavailable.Value);
        Assert.Equal(spec.Selector.MatchLabels, budget.Spec.Selector.MatchLabels);
    }

    [Fact]
    public void Autoscaler_scales_the_coredns_Deployment_from_its_linear_ConfigMap()
    {
        var autoscaler = Base.Single<V1Deployment>("kube-dns-autoscaler");
        var command = Assert.Single(autoscaler.Spec.Template.Spec.Containers).Command;
        Assert.Contains("--target=Deployment/coredns", command);
        Assert.Contains("--namespace=kube-system", command);
        Assert.Contains("--configmap=kube-dns-autoscaler", command);

        var linear = JsonDocument.Parse(Base.Single<V1ConfigMap>("kube-dns-autoscaler").Data["linear"]).RootElement;
        Assert.Equal(256, linear.GetProperty("coresPerReplica").GetInt32());
        Assert.Equal(16, linear.GetProperty("nodesPerReplica").GetInt32());
        Assert.Equal(2, linear.GetProperty("min").GetInt32());
        Assert.True(linear.GetProperty("preventSinglePointFailure").GetBoolean());

        // It may change the coredns Deployment's scale and nothing else.
        var role = Base.Single<V1Role>("kube-dns-autoscaler");
        var scaleRule = Assert.Single(role.Rules, r => r.Resources.Contains("deployments/scale"));
        Assert.Equal(["coredns"], scaleRule.ResourceNames);
        Assert.Equal(["get", "update"], scaleRule.Verbs);
        Assert.All(role.Rules, r => Assert.NotNull(r.ResourceNames));
        var nodes = Assert.Single(Base.Single<V1ClusterRole>("system:kube-dns-autoscaler").Rules);
        Assert.Equal(["nodes"], nodes.Resources);
        Assert.DoesNotContain(nodes.Verbs, v => v is not ("get" or "list" or "watch"));
        Assert.Equal("kube-dns-autoscaler", autoscaler.Spec.Template.Spec.ServiceAccountName);
    }

    [Fact]
    public void Node_local_overlay_contains_the_whole_base()
    {
        var overlay = NodeLocal.Identities().ToHashSet();
        Assert.All(Base.Identities(), identity => Assert.Contains(identity, overlay));
        overlay.ExceptWith(Base.Identities());
        Assert.Equal(
            new HashSet<(string, string?, string)>
            {
                ("DaemonSet", Namespace, "node-local-dns"),
                ("ConfigMap", Namespace, "node-local-dns"),
                ("Service", Namespace, "node-local-dns"),
                ("ServiceAccount", Namespace, "node-local-dns"),
            },
            overlay);
    }

    [Fact]
    public void Node_local_cache_runs_on_the_host_network_and_binds_only_the_link_local_address()
    {
        var daemonSet = NodeLocal.Single<V1DaemonSet>("node-local-dns");
        var pod = daemonSet.Spec.Template.Spec;
        Assert.True(pod.HostNetwork);
        Assert.Equal("Default", pod.DnsPolicy);
        Assert.Equal("system-node-critical", pod.PriorityClassName);

        var corefile = SimpleCorefile.Parse(CorefileOf(NodeLocal.Single<V1ConfigMap>("node-local-dns")));
        Assert.Equal(
            ["cluster.local:53", "in-addr.arpa:53", "ip6.arpa:53", ".:53"],
            corefile.ServerBlocks.Select(b => string.Join(' ', b.Keys)));
        Assert.All(corefile.ServerBlocks, block =>
        {
            // Bound to the node's whole address list instead, it would take port 53 from the node's own resolver.
            Assert.Equal([LinkLocal], block.Directive("bind").Arguments);
            Assert.True(block.Has("cache") && block.Has("loop") && block.Has("reload") && block.Has("errors"));
            Assert.Equal(53, block.Port);
        });

        // Cluster zones go to the kube-dns Service over TCP; everything else to the node's resolvers.
        var kubeDns = NodeLocal.Single<V1Service>("kube-dns").Spec.ClusterIP;
        foreach (var zone in new[] { "cluster.local:53", "in-addr.arpa:53", "ip6.arpa:53" })
        {
            var forward = corefile.Block(zone).Directive("forward");
            Assert.Equal([".", kubeDns], forward.Arguments);
            Assert.NotNull(forward.Child("force_tcp"));
        }

        Assert.Equal([".", "/etc/resolv.conf"], corefile.Block(".:53").Directive("forward").Arguments);
        var cache = corefile.Block("cluster.local:53").Directive("cache");
        Assert.Equal(["9984", "30"], cache.Child("success")?.Arguments);
        Assert.Equal(["9984", "5"], cache.Child("denial")?.Arguments);
    }

    [Fact]
    public void Node_local_probe_metrics_and_mount_match_its_Corefile()
    {
        var daemonSet = NodeLocal.Single<V1DaemonSet>("node-local-dns");
        var container = Assert.Single(daemonSet.Spec.Template.Spec.Containers);
        var corefile = SimpleCorefile.Parse(CorefileOf(NodeLocal.Single<V1ConfigMap>("node-local-dns")));

        var health = corefile.Block("cluster.local:53").Directive("health").Address(":8080");
        Assert.Equal((LinkLocal, 8080), health);
        var liveness = container.LivenessProbe.HttpGet;
        Assert.Equal("/health", liveness.Path);
        Assert.Equal(health.Host, liveness.Host);
        Assert.Equal(health.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), liveness.Port.Value);

        var metricsPorts = corefile.ServerBlocks.Select(b => b.Directive("prometheus").Address("localhost:9153").Port).Distinct();
        var metricsPort = Assert.Single(metricsPorts);
        Assert.Equal(9253, metricsPort);
        var service = NodeLocal.Single<V1Service>("node-local-dns");
        var servicePort = Assert.Single(service.Spec.Ports);
        Assert.Equal((metricsPort, "TCP"), (servicePort.Port, servicePort.Protocol));
        Assert.Equal(metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture), service.Metadata.Annotations["prometheus.io/port"]);
        Assert.All(service.Spec.Selector, s => Assert.Equal(s.Value, daemonSet.Spec.Template.Metadata.Labels[s.Key]));
        Assert.Equal(
            new HashSet<(string, int, string)> { ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", metricsPort, "TCP") },
            container.Ports.Select(p => (p.Name, p.ContainerPort, p.Protocol)).ToHashSet());

        Assert.Equal(["-conf", "/etc/coredns/Corefile"], container.Args);
        var volume = Assert.Single(daemonSet.Spec.Template.Spec.Volumes, v => v.ConfigMap is not null);
        Assert.Equal("node-local-dns", volume.ConfigMap.Name);
        var mount = Assert.Single(container.VolumeMounts, m => m.Name == volume.Name);
        Assert.Equal(("/etc/coredns", (string?)null), (mount.MountPath, mount.SubPath));

        // It manages no iptables rules or interfaces: binding port 53 is the only privilege it has.
        var security = container.SecurityContext;
        Assert.Equal(["ALL"], security.Capabilities.Drop);
        Assert.Equal(["NET_BIND_SERVICE"], security.Capabilities.Add);
        Assert.False(security.AllowPrivilegeEscalation);
        Assert.True(security.ReadOnlyRootFilesystem);
        Assert.NotEqual(true, security.Privileged);
        Assert.False(daemonSet.Spec.Template.Spec.AutomountServiceAccountToken);
    }

    private static string CorefileOf(V1ConfigMap configMap) =>
        configMap.Data.TryGetValue("Corefile", out var corefile)
            ? corefile
            : throw new Xunit.Sdk.XunitException($"ConfigMap {configMap.Metadata.Name} has no Corefile key.");
}
