using ClusterDns.Server.Corefile;

namespace ClusterDns.Server.Plugins.AutoPath;

/// <summary>An <c>autopath [ZONE...] RESOLV-CONF</c> directive, parsed once; immutable.</summary>
public sealed record AutoPathOptions
{
    /// <summary>The zones whose names autopath looks at, lower-case with a trailing dot (the block's by default).</summary>
    public required IReadOnlyList<string> Zones { get; init; }

    /// <summary>The search list read from RESOLV-CONF; null when a plugin gives it (<c>@kubernetes</c>).</summary>
    public IReadOnlyList<string>? Search { get; init; }

    /// <summary>The plugin that gives each client's search path (<c>@kubernetes</c> gives <c>kubernetes</c>), or null.</summary>
    public string? Provider { get; init; }

    public static AutoPathOptions Parse(Directive directive, IReadOnlyList<string> blockZones)
    {
        directive.ExpectArgumentCount(1, int.MaxValue);
        directive.ExpectNoBlock();
        var arguments = directive.Arguments;
        var zones = new List<string>();
        for (var i = 0; i < arguments.Count - 1; i++) zones.Add(directive.ParseZone(arguments[i]));
        var source = arguments[^1].Text;
        var options = new AutoPathOptions { Zones = zones.Count > 0 ? zones : blockZones };
        if (source.StartsWith('@'))
        {
            if (source.Length == 1) throw directive.Error("missing plugin name after '@'");
            return options with { Provider = source[1..] };
        }
        if (!File.Exists(source)) throw directive.Error($"failed to parse '{source}': no such file");
        try
        {
            return options with { Search = Hosting.ResolvConf.ReadSearch(source) };
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
            throw directive.Error($"failed to parse '{source}': {exception.Message}");
        }
    }
}
