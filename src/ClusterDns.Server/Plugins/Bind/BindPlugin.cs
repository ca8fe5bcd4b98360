using System.Net;
using System.Net.NetworkInformation;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Server.Plugins.Bind;

/// <summary>
/// bind: the server block listens only on the given addresses, each an IP address or a network interface name (all
/// of that interface's addresses), minus those listed in an <c>except</c> line. Without bind a block listens on every
/// address. It takes no part in answering queries.
/// </summary>
public static class BindPlugin
{
    public const string PluginName = "bind";

    public static readonly PluginDefinition Definition = new(PluginName, Setup, AllowRepeat: true);

    private static DnsPlugin? Setup(PluginSetupContext context, Directive directive)
    {
        foreach (var address in ParseAddresses(directive, InterfaceAddresses))
        {
            if (!context.Options.BindAddresses.Contains(address)) context.Options.BindAddresses.Add(address);
        }
        return null;
    }

    /// <summary>Resolves the directive's addresses and interfaces, less the <c>except</c> ones.</summary>
    public static IReadOnlyList<IPAddress> ParseAddresses(Directive directive, Func<string, IReadOnlyList<IPAddress>?> interfaceAddresses)
    {
        if (directive.Arguments.Count == 0) throw directive.Error("at least one address or interface name is required");
        var addresses = new List<IPAddress>();
        foreach (var token in directive.Arguments) addresses.AddRange(Resolve(directive, token, interfaceAddresses));
        var excluded = new List<IPAddress>();
        foreach (var line in directive.Block)
        {
            if (line.Name != "except") throw line.UnknownProperty(PluginName);
            if (line.Arguments.Count == 0) throw line.Error("except needs at least one address or interface name");
            foreach (var token in line.Arguments) excluded.AddRange(Resolve(line, token, interfaceAddresses));
        }
        var result = addresses.Where(a => !excluded.Contains(a)).Distinct().ToList();
        if (result.Count == 0) throw directive.Error("no address left to bind after except");
        return result;
    }

    private static IEnumerable<IPAddress> Resolve(Directive directive, CorefileToken token, Func<string, IReadOnlyList<IPAddress>?> interfaceAddresses)
    {
        if (IPAddress.TryParse(token.Text.Trim('[', ']'), out var address)) return [address];
        var found = interfaceAddresses(token.Text);
        if (found is null) throw directive.Error($"'{token.Text}' is neither an IP address nor a network interface");
        if (found.Count == 0) throw directive.Error($"interface '{token.Text}' has no address");
        return found;
    }

    /// <summary>The unicast addresses of the interface named <paramref name="name"/>, or null if there is none.</summary>
    public static IReadOnlyList<IPAddress>? InterfaceAddresses(string name)
    {
        foreach (var candidate in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (candidate.Name != name) continue;
            return candidate.GetIPProperties().UnicastAddresses.Select(u => u.Address).ToList();
        }
        return null;
    }
}
