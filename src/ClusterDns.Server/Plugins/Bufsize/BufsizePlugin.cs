using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;

namespace ClusterDns.Server.Plugins.Bufsize;

/// <summary>
/// bufsize: caps the EDNS UDP size of the server block (default 1232, the DNS Flag Day 2020 value; 512 to 4096): a
/// client asking for more gets at most SIZE bytes over UDP (larger answers come truncated, TC set, and the client
/// retries over TCP), and our OPT record advertises no more than SIZE. It only ever lowers the size.
/// </summary>
public static class BufsizePlugin
{
    public const string PluginName = "bufsize";
    public const int DefaultSize = 1232;
    public const int MinimumSize = 512;
    public const int MaximumSize = 4096;

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private static DnsPlugin? Setup(PluginSetupContext context, Directive directive)
    {
        var size = ParseSize(directive);
        context.Options.MaxUdpSize = Math.Min(context.Options.MaxUdpSize, size);
        context.Options.AdvertisedUdpSize = (ushort)Math.Min(context.Options.AdvertisedUdpSize, size);
        return null;
    }

    public static int ParseSize(Directive directive)
    {
        directive.ExpectNoBlock();
        directive.ExpectArgumentCount(0, 1);
        return directive.Arguments.Count == 0 ? DefaultSize : directive.ParseInt(directive.Arguments[0], MinimumSize, MaximumSize);
    }
}
