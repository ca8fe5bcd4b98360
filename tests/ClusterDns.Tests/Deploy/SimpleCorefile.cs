using System.Globalization;

namespace ClusterDns.Tests.Deploy;

/// <summary>
/// Just enough of a Corefile reader to check manifests against the Corefile they carry: comments, words, and
/// nested braces. Deliberately independent of the server's CorefileParser, so a parser bug cannot hide a
/// manifest bug (and the other way round). No imports, snippets, environment variables or quoting.
/// </summary>
public sealed record SimpleCorefile(IReadOnlyList<CorefileServerBlock> ServerBlocks)
{
    public static SimpleCorefile Parse(string text)
    {
        var tokens = Tokenize(text);
        var position = 0;
        var blocks = new List<CorefileServerBlock>();
        while (position < tokens.Count)
        {
            var keys = new List<string>();
            while (position < tokens.Count && tokens[position].Text != "{")
            {
                keys.Add(tokens[position].Text.TrimEnd(','));
                position++;
            }

            if (position >= tokens.Count)
            {
                throw new FormatException($"Server block keys {string.Join(' ', keys)} without a body.");
            }

            position++; // {
            blocks.Add(new CorefileServerBlock(keys, ReadDirectives(tokens, ref position)));
        }

        return new SimpleCorefile(blocks);
    }

    public CorefileServerBlock Block(string key) =>
        ServerBlocks.SingleOrDefault(b => b.Keys.Contains(key))
            ?? throw new Xunit.Sdk.XunitException($"No server block with key {key} in the Corefile.");

    /// <summary>A Go duration as CoreDNS writes them in a Corefile: 5s, 500ms, 1m, 1m30s.</summary>
    public static TimeSpan ParseDuration(string text)
    {
        var total = TimeSpan.Zero;
        var rest = text;
        while (rest.Length > 0)
        {
            var digits = 0;
            while (digits < rest.Length && (char.IsAsciiDigit(rest[digits]) || rest[digits] == '.'))
            {
                digits++;
            }

            var unitLength = 0;
            while (digits + unitLength < rest.Length && char.IsAsciiLetter(rest[digits + unitLength]))
            {
                unitLength++;
            }

            if (digits == 0 || unitLength == 0)
            {
                throw new FormatException($"Not a duration: {text}");
            }

            var value = double.Parse(rest[..digits], CultureInfo.InvariantCulture);
            total += rest.Substring(digits, unitLength) switch
            {
                "ms" => TimeSpan.FromMilliseconds(value),
                "s" => TimeSpan.FromSeconds(value),
                "m" => TimeSpan.FromMinutes(value),
                "h" => TimeSpan.FromHours(value),
                var unit => throw new FormatException($"Unknown duration unit {unit} in {text}"),
            };
            rest = rest[(digits + unitLength)..];
        }

        return total;
    }

    private static List<CorefileDirective> ReadDirectives(List<Token> tokens, ref int position)
    {
        var directives = new List<CorefileDirective>();
        while (true)
        {
            if (position >= tokens.Count)
            {
                throw new FormatException("Unclosed {.");
            }

            if (tokens[position].Text == "}")
            {
                position++;
                return directives;
            }

            var line = tokens[position].Line;
            var name = tokens[position++].Text;
            var arguments = new List<string>();
            while (position < tokens.Count && tokens[position].Line == line
                   && tokens[position].Text is not "{" and not "}")
            {
                arguments.Add(tokens[position++].Text);
            }

            IReadOnlyList<CorefileDirective> children = [];
            if (position < tokens.Count && tokens[position].Text == "{" && tokens[position].Line == line)
            {
                position++;
                children = ReadDirectives(tokens, ref position);
            }

            directives.Add(new CorefileDirective(name, arguments, children));
        }
    }

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var lines = text.Split('\n');
        for (var lineNumber = 0; lineNumber < lines.Length; lineNumber++)
        {
            var line = lines[lineNumber];
            var comment = line.IndexOf('#', StringComparison.Ordinal);
            if (comment >= 0)
            {
                line = line[..comment];
            }

            foreach (var word in line.Replace("{", " { ", StringComparison.Ordinal)
                         .Replace("}", " } ", StringComparison.Ordinal)
                         .Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries))
            {
                tokens.Add(new Token(word, lineNumber + 1));
            }
        }

        return tokens;
    }

    private readonly record struct Token(string Text, int Line);
}

public sealed record CorefileServerBlock(IReadOnlyList<string> Keys, IReadOnlyList<CorefileDirective> Directives)
{
    /// <summary>The port of the block's first key (`.:53`, `cluster.local:53`); 53 when none is written.</summary>
    public int Port
    {
        get
        {
            var key = Keys[0];
            var colon = key.LastIndexOf(':');
            return colon < 0 ? 53 : int.Parse(key[(colon + 1)..], CultureInfo.InvariantCulture);
        }
    }

    public CorefileDirective Directive(string name) =>
        Directives.SingleOrDefault(d => d.Name == name)
            ?? throw new Xunit.Sdk.XunitException(
                $"Server block {string.Join(' ', Keys)} has no (or more than one) {name} directive.");

    public bool Has(string name) => Directives.Any(d => d.Name == name);
}

public sealed record CorefileDirective(string Name, IReadOnlyList<string> Arguments, IReadOnlyList<CorefileDirective> Children)
{
    public CorefileDirective? Child(string name) => Children.SingleOrDefault(c => c.Name == name);

    /// <summary>
    /// The host and port of an address argument like health's `:8080` or `169.254.20.10:8080`, or the default
    /// when the directive has none.
    /// </summary>
    public (string Host, int Port) Address(string defaultAddress)
    {
        var address = Arguments.Count > 0 ? Arguments[0] : defaultAddress;
        var colon = address.LastIndexOf(':');
        return (address[..colon], int.Parse(address[(colon + 1)..], CultureInfo.InvariantCulture));
    }
}
