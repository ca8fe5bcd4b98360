namespace ClusterDns.Server.Corefile;

/// <summary>Interim minimal parser (blocks, directives, nested blocks, comments); replaced by the full parser.</summary>
public static class CorefileParser
{
    public static CorefileDocument ParseFile(string path, Func<string, string?>? environment = null) =>
        Parse(File.ReadAllText(path), Path.GetFullPath(path), environment);

    public static CorefileDocument Parse(string text, string fileName, Func<string, string?>? environment = null)
    {
        var lines = new List<List<CorefileToken>>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw;
            var hash = line.IndexOf('#');
            if (hash >= 0) line = line[..hash];
            var tokens = new List<CorefileToken>();
            foreach (var word in line.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries)) tokens.Add(new CorefileToken(word, fileName, number));
            if (tokens.Count > 0) lines.Add(tokens);
        }
        var index = 0;
        var blocks = new List<ServerBlock>();
        while (index < lines.Count)
        {
            var header = lines[index++];
            var keys = new List<ServerKey>();
            foreach (var token in header)
            {
                if (token.Text == "{") break;
                var text2 = token.Text.StartsWith("dns://", StringComparison.Ordinal) ? token.Text[6..] : token.Text;
                var colon = text2.LastIndexOf(':');
                int? port = colon >= 0 ? int.Parse(text2[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture) : null;
                var zone = colon >= 0 ? text2[..colon] : text2;
                keys.Add(new ServerKey("dns", Wire.DnsName.Normalize(zone.Length == 0 ? "." : zone), port, token.Text));
            }
            blocks.Add(new ServerBlock(keys, ReadDirectives(lines, ref index), fileName, header[0].Line));
        }
        return new CorefileDocument(blocks, [fileName], text);
    }

    private static List<Directive> ReadDirectives(List<List<CorefileToken>> lines, ref int index)
    {
        var directives = new List<Directive>();
        while (index < lines.Count)
        {
            var line = lines[index++];
            if (line[0].Text == "}") return directives;
            var opens = line[^1].Text == "{";
            var args = line.GetRange(1, line.Count - 1 - (opens ? 1 : 0));
            var children = opens ? ReadDirectives(lines, ref index) : [];
            directives.Add(new Directive(line[0].Text, args, children, line[0].File, line[0].Line));
        }
        return directives;
    }
}
