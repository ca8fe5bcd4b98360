using ClusterDns.Server.Corefile;

namespace ClusterDns.Server.Pipeline;

/// <summary>
/// How a Corefile directive becomes a plugin: its name and its setup, which parses the directive into options and
/// returns the handler (or null for a plugin with no part in answering queries, such as health or reload).
/// </summary>
public sealed record PluginDefinition(string Name, Func<PluginSetupContext, Directive, DnsPlugin?> Setup, bool AllowRepeat = false);

/// <summary>
/// The plugins this build knows, in the one order they run in whatever the Corefile order: this project's
/// plugin.cfg. Order is data here, as in CoreDNS.
/// </summary>
public sealed class PluginCatalog
{
    /// <summary>Execution order, first to last (CoreDNS's plugin.cfg order for the plugins we have).</summary>
    public static readonly IReadOnlyList<string> Order =
    [
        "reload", "bufsize", "bind", "debug", "ready", "health", "prometheus", "errors", "log", "any",
        "loadbalance", "cache", "autopath", "hosts", "kubernetes", "loop", "forward", "whoami",
    ];

    private readonly Dictionary<string, PluginDefinition> _definitions = new(StringComparer.Ordinal);

    public PluginCatalog Add(PluginDefinition definition)
    {
        if (!Order.Contains(definition.Name)) throw new ArgumentException($"plugin '{definition.Name}' has no place in the plugin order");
        _definitions.Add(definition.Name, definition);
        return this;
    }

    /// <summary>Adds the definition, or replaces the one of the same name (tests swap in stand-ins this way).</summary>
    public PluginCatalog Set(PluginDefinition definition)
    {
        _definitions.Remove(definition.Name);
        return Add(definition);
    }

    public bool TryGet(string name, out PluginDefinition definition) => _definitions.TryGetValue(name, out definition!);

    /// <summary>The registered plugins in execution order (what <c>-plugins</c> prints).</summary>
    public IEnumerable<string> Names
    {
        get
        {
            foreach (var name in Order)
            {
                if (_definitions.ContainsKey(name)) yield return name;
            }
        }
    }

    public static int IndexOf(string name)
    {
        for (var i = 0; i < Order.Count; i++)
        {
            if (Order[i] == name) return i;
        }
        return -1;
    }
}
