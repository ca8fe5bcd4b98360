using System.Collections.Concurrent;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Kubernetes.Store;

/// <summary>
/// Pod IP to the namespace of the Pod that has it, for autopath to learn who is asking. Only the controller's loop
/// writes; queries read without a lock. An IP that no Pod identifies (host network, finished) or that Pods of two
/// namespaces claim at once (an IP handed on before the old Pod's deletion arrived) maps to nothing, so autopath
/// leaves such a client alone rather than walk the wrong namespace's search path (CoreDNS #2842).
/// </summary>
public sealed class PodAddressIndex
{
    private readonly ConcurrentDictionary<UInt128, string> _published = new();
    private readonly Dictionary<string, UInt128[]> _addressesOfPod = new(StringComparer.Ordinal);
    // An address almost always has one claimant, kept inline; every claimant goes to _contested only while several do.
    private readonly Dictionary<UInt128, (string Pod, string Namespace)> _claimant = [];
    private readonly Dictionary<UInt128, Dictionary<string, string>> _contested = [];

    public int Count => _published.Count;

    public bool TryGetNamespace(UInt128 address, out string ns) => _published.TryGetValue(address, out ns!);

    /// <summary>Records the Pod under <paramref name="key"/> as it is now; null when it is gone.</summary>
    public void Set(string key, PodRecord? pod)
    {
        if (_addressesOfPod.Remove(key, out var old))
        {
            foreach (var address in old) Unclaim(address, key);
        }
        if (pod is { IdentifiesClient: true, IPs.Length: > 0 })
        {
            var addresses = new UInt128[pod.IPs.Length];
            for (var i = 0; i < addresses.Length; i++)
            {
                addresses[i] = ClientAddress.Key(pod.IPs[i]);
                Claim(addresses[i], key, pod.Namespace);
            }
            _addressesOfPod[key] = addresses;
        }
        if (old is not null)
        {
            foreach (var address in old) Publish(address);
        }
        if (_addressesOfPod.TryGetValue(key, out var current))
        {
            foreach (var address in current) Publish(address);
        }
    }

    private void Claim(UInt128 address, string pod, string ns)
    {
        if (_contested.TryGetValue(address, out var pods))
        {
            pods[pod] = ns;
        }
        else if (_claimant.TryGetValue(address, out var claimant) && claimant.Pod != pod)
        {
            _contested[address] = new Dictionary<string, string>(StringComparer.Ordinal) { [claimant.Pod] = claimant.Namespace, [pod] = ns };
            _claimant.Remove(address);
        }
        else
        {
            _claimant[address] = (pod, ns);
        }
    }

    private void Unclaim(UInt128 address, string pod)
    {
        if (_contested.TryGetValue(address, out var pods))
        {
            pods.Remove(pod);
            if (pods.Count > 1) return;
            _contested.Remove(address);
            foreach (var (remaining, ns) in pods) _claimant[address] = (remaining, ns);
        }
        else if (_claimant.TryGetValue(address, out var claimant) && claimant.Pod == pod)
        {
            _claimant.Remove(address);
        }
    }

    private void Publish(UInt128 address)
    {
        string? ns = null;
        if (_claimant.TryGetValue(address, out var claimant))
        {
            ns = claimant.Namespace;
        }
        else if (_contested.TryGetValue(address, out var pods))
        {
            foreach (var podNamespace in pods.Values)
            {
                if (ns is null) ns = podNamespace;
                else if (ns != podNamespace)
                {
                    ns = null;
                    break;
                }
            }
        }
        if (ns is null) _published.TryRemove(address, out _);
        else if (!_published.TryGetValue(address, out var current) || current != ns) _published[address] = ns;
    }
}
