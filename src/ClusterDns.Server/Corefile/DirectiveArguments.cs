using System.Globalization;
using System.Net;

namespace ClusterDns.Server.Corefile;

/// <summary>
/// Reading a directive's arguments the way CoreDNS plugins do, each failure naming the file, line and directive.
/// </summary>
public static class DirectiveArguments
{
    public static void ExpectNoArguments(this Directive directive)
    {
        if (directive.Arguments.Count > 0) throw directive.Error($"unexpected argument '{directive.Arguments[0]}'");
    }

    public static void ExpectNoBlock(this Directive directive)
    {
        if (directive.Block.Count > 0) throw directive.Block[0].Error($"unexpected '{directive.Block[0].Name}': this plugin takes no block");
    }

    public static void ExpectArgumentCount(this Directive directive, int min, int max)
    {
        if (directive.Arguments.Count < min) throw directive.Error(min == 1 ? "missing argument" : $"needs at least {min} arguments");
        if (directive.Arguments.Count > max) throw directive.Error($"unexpected argument '{directive.Arguments[max]}'");
    }

    /// <summary>Throws for a block line the plugin does not know.</summary>
    public static CorefileException UnknownProperty(this Directive property, string plugin) =>
        property.Error($"unknown property '{property.Name}' for plugin {plugin}");

    /// <summary>A Go duration (<c>5s</c>, <c>1m30s</c>, <c>500ms</c>, <c>2h</c>), as CoreDNS reads them.</summary>
    public static TimeSpan ParseDuration(this Directive directive, CorefileToken token)
    {
        if (TryParseDuration(token.Text, out var value)) return value;
        throw directive.Error($"invalid duration '{token.Text}'");
    }

    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (text.Length == 0) return false;
        if (text == "0") return true;
        var position = 0;
        double totalMs = 0;
        while (position < text.Length)
        {
            var start = position;
            while (position < text.Length && (char.IsAsciiDigit(text[position]) || text[position] == '.')) position++;
            if (start == position) return false;
            if (!double.TryParse(text.AsSpan(start, position - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) return false;
            var unitStart = position;
            while (position < text.Length && char.IsAsciiLetter(text[position])) position++;
            double scale = text[unitStart..position] switch
            {
                "ns" => 1e-6,
                "us" or "µs" => 1e-3,
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => double.NaN,
            };
            if (double.IsNaN(scale)) return false;
            totalMs += number * scale;
        }
        value = TimeSpan.FromMilliseconds(totalMs);
        return true;
    }

    public static int ParseInt(this Directive directive, CorefileToken token, int min, int max)
    {
        if (!int.TryParse(token.Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)) throw directive.Error($"invalid number '{token.Text}'");
        if (value < min || value > max) throw directive.Error($"'{token.Text}' is out of range {min}..{max}");
        return value;
    }

    /// <summary>The optional HTTP address argument of health, ready and prometheus (<c>:8080</c>, <c>127.0.0.1:9153</c>).</summary>
    public static string ParseHttpAddress(this Directive directive, string defaultAddress)
    {
        directive.ExpectArgumentCount(0, 1);
        var address = directive.Arguments.Count == 1 ? directive.Arguments[0].Text : defaultAddress;
        try
        {
            Hosting.HttpEndpointHost.ToPrefix(address);
        }
        catch (FormatException exception)
        {
            throw directive.Error(exception.Message);
        }
        return address;
    }

    public static IPAddress ParseAddress(this Directive directive, CorefileToken token)
    {
        if (IPAddress.TryParse(token.Text.Trim('[', ']'), out var address)) return address;
        throw directive.Error($"invalid IP address '{token.Text}'");
    }

    /// <summary>
    /// Zones given as arguments from <paramref name="start"/> on, normalised; none given means the server block's zones.
    /// </summary>
    public static IReadOnlyList<string> ParseZones(this Directive directive, int start, IReadOnlyList<string> blockZones)
    {
        if (directive.Arguments.Count <= start) return blockZones;
        var zones = new List<string>();
        for (var i = start; i < directive.Arguments.Count; i++) zones.Add(ParseZone(directive, directive.Arguments[i]));
        return zones;
    }

    public static string ParseZone(this Directive directive, CorefileToken token)
    {
        try
        {
            return Wire.DnsName.Normalize(token.Text);
        }
        catch (FormatException exception)
        {
            throw directive.Error($"invalid zone '{token.Text}': {exception.Message}");
        }
    }
}
