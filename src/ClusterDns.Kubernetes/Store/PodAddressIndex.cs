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
    private readonly Dictionary<UInt128, Dictionary<string, string>> _podsAtAddress = [];

    public int Count => _published.Count;

    public bool TryGetNamespace(UInt128 address, out string ns) => _published.TryGetValue(address, out ns!);

    /// <summary>Records the Pod under <paramref name="key"/> as it is now; null when it is gone.</summary>
    public void Set(string key, PodRecord? pod)
    {
        var affected = new List<UInt128>();
        if (_addressesOfPod.Remove(key, out var old))
        {
            foreach (var address in old)
            {
                if (_podsAtAddress.TryGetValue(address, out var pods)) pods.Remove(key);
                affected.Add(address);
            }
        }
        if (pod is { IdentifiesClient: true, IPs.Length: > 0 })
        {
            var addresses = new UInt128[pod.IPs.Length];
            for (var i = 0; i < addresses.Length; i++)
            {
                addresses[i] = ClientAddress.Key(pod.IPs[i]);
                if (!_podsAtAddress.TryGetValue(addresses[i], out var pods)) _podsAtAddress[addresses[i]] = pods = new(StringComparer.Ordinal);
                pods[key] = pod.Namespace;
                affected.Add(addresses[i]);
            }
            _addressesOfPod[key] = addresses;
        }
        foreach (var address in affected) Publish(address);
    }

    private void Publish(UInt128 address)
    {
        string? ns = null;
        if (_podsAtAddress.TryGetValue(address, out var pods))
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
            if (pods.Count == 0) _podsAtAddress.Remove(address);
        }
        if (ns is null) _published.TryRemove(address, out _);
        else _published[address] = ns;
    }
}
