using System.Globalization;

namespace ClusterDns;

/// <summary>CoreDNS's command-line flags (single dash, as Go's flag package; a double dash works too).</summary>
public sealed record CommandLine
{
    public string? ConfigPath { get; init; }
    public int? DnsPort { get; init; }
    public bool ListPlugins { get; init; }
    public bool ShowVersion { get; init; }
    public bool Quiet { get; init; }
    /// <summary>Start the embedded Kubernetes API emulator with sample objects and serve Corefile.example against it.</summary>
    public bool Demo { get; init; }

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var result = new CommandLine();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var name = arg.TrimStart('-');
            string? inlineValue = null;
            var equals = name.IndexOf('=');
            if (equals >= 0)
            {
                inlineValue = name[(equals + 1)..];
                name = name[..equals];
            }
            string Value()
            {
                if (inlineValue is not null) return inlineValue;
                if (i + 1 >= args.Count) throw new ArgumentException($"flag needs an argument: -{name}");
                return args[++i];
            }
            result = name switch
            {
                "conf" => result with { ConfigPath = Value() },
                "dns.port" => result with { DnsPort = ParsePort(Value()) },
                "plugins" => result with { ListPlugins = true },
                "version" => result with { ShowVersion = true },
                "quiet" => result with { Quiet = true },
                "demo" => result with { Demo = true },
                _ => throw new ArgumentException($"flag provided but not defined: {arg}"),
            };
        }
        return result;
    }

    private static int ParsePort(string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new ArgumentException($"invalid value \"{text}\" for flag -dns.port");
}
