using System.Text.Json;

namespace ClusterDns.KubeEmulator;

/// <summary>A parsed label selector (=, ==, !=, in, notin, exists, !key, gt, lt) as in k8s.io/apimachinery/pkg/labels.</summary>
internal sealed class LabelSelector
{
    private readonly List<Func<IReadOnlyDictionary<string, string>?, bool>> _requirements = [];

    public static LabelSelector? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        var selector = new LabelSelector();
        foreach (var part in SplitTopLevel(text))
        {
            var req = part.Trim();
            if (req.Length == 0)
            {
                throw KubeApiException.BadRequest($"unable to parse requirement: found '', expected: identifier in selector \"{text}\"");
            }
            selector._requirements.Add(ParseRequirement(req, text));
        }
        return selector;
    }

    public bool Matches(IReadOnlyDictionary<string, string>? labels)
    {
        foreach (var r in _requirements)
        {
            if (!r(labels)) return false;
        }
        return true;
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        int depth = 0, start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '(': depth++; break;
                case ')': depth--; break;
                case ',' when depth == 0:
                    yield return text[start..i];
                    start = i + 1;
                    break;
            }
        }
        yield return text[start..];
    }

    private static Func<IReadOnlyDictionary<string, string>?, bool> ParseRequirement(string req, string whole)
    {
        if (req.StartsWith('!'))
        {
            var key = CheckKey(req[1..].Trim(), whole);
            return l => l is null || !l.ContainsKey(key);
        }
        int op = req.IndexOfAny(['=', '!', '<', '>']);
        var words = req.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 2 && (words[1].StartsWith("in ", StringComparison.Ordinal) || words[1].StartsWith("in(", StringComparison.Ordinal)
            || words[1].StartsWith("notin", StringComparison.Ordinal)) && (op < 0 || op > words[0].Length))
        {
            var key = CheckKey(words[0], whole);
            bool notIn = words[1].StartsWith("notin", StringComparison.Ordinal);
            var rest = words[1][(notIn ? 5 : 2)..].Trim();
            if (!rest.StartsWith('(') || !rest.EndsWith(')'))
            {
                throw KubeApiException.BadRequest($"unable to parse requirement: found '{rest}', expected: '(' in selector \"{whole}\"");
            }
            var values = rest[1..^1].Split(',', StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
            return notIn
                ? l => l is null || !l.TryGetValue(key, out var v) || !values.Contains(v)
                : l => l is not null && l.TryGetValue(key, out var v) && values.Contains(v);
        }
        if (op < 0)
        {
            var key = CheckKey(req, whole);
            return l => l is not null && l.ContainsKey(key);
        }
        var k = CheckKey(req[..op].Trim(), whole);
        string rhs;
        if (req.AsSpan(op).StartsWith("!="))
        {
            rhs = req[(op + 2)..].Trim();
            return l => l is null || !l.TryGetValue(k, out var v) || v != rhs;
        }
        if (req.AsSpan(op).StartsWith("=="))
        {
            rhs = req[(op + 2)..].Trim();
        }
        else if (req[op] == '=')
        {
            rhs = req[(op + 1)..].Trim();
        }
        else if (req[op] is '<' or '>')
        {
            bool greater = req[op] == '>';
            if (!long.TryParse(req[(op + 1)..].Trim(), out var bound))
            {
                throw KubeApiException.BadRequest($"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer in selector \"{whole}\"");
            }
            return l => l is not null && l.TryGetValue(k, out var v) && long.TryParse(v, out var n) && (greater ? n > bound : n < bound);
        }
        else
        {
            throw KubeApiException.BadRequest($"unable to parse requirement: invalid operator in selector \"{whole}\"");
        }
        return l => l is not null && l.TryGetValue(k, out var v) && v == rhs;
    }

    private static string CheckKey(string key, string whole)
    {
        if (key.Length == 0 || key.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/')))
        {
            throw KubeApiException.BadRequest($"unable to parse requirement: invalid label key \"{key}\" in selector \"{whole}\"");
        }
        return key;
    }
}

/// <summary>A parsed field selector (field=value, field==value, field!=value). metadata.name and metadata.namespace are
/// indexed; any other dotted path is read from the object (kube-apiserver allows only a per-resource list of fields).</summary>
internal sealed class FieldSelector
{
    private readonly List<(string Field, string Value, bool Equal)> _terms = [];

    public static FieldSelector? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        var selector = new FieldSelector();
        foreach (var raw in text.Split(','))
        {
            var term = raw.Trim();
            int i = term.IndexOf("!=", StringComparison.Ordinal);
            if (i > 0)
            {
                selector._terms.Add((term[..i].Trim(), term[(i + 2)..].Trim(), false));
                continue;
            }
            i = term.IndexOf("==", StringComparison.Ordinal);
            if (i > 0)
            {
                selector._terms.Add((term[..i].Trim(), term[(i + 2)..].Trim(), true));
                continue;
            }
            i = term.IndexOf('=');
            if (i > 0)
            {
                selector._terms.Add((term[..i].Trim(), term[(i + 1)..].Trim(), true));
                continue;
            }
            throw KubeApiException.BadRequest($"invalid selector: '{text}'; can't understand '{term}'");
        }
        return selector;
    }

    /// <summary>The metadata.name this selector pins, if any (lets a single-object watch skip work).</summary>
    public string? ExactName => _terms.FirstOrDefault(t => t.Equal && t.Field == "metadata.name").Value;

    public bool Matches(StoredObject obj)
    {
        JsonDocument? doc = null;
        try
        {
            foreach (var (field, value, equal) in _terms)
            {
                string? actual;
                if (field == "metadata.name") actual = obj.Name;
                else if (field == "metadata.namespace") actual = obj.Namespace;
                else
                {
                    doc ??= JsonDocument.Parse(obj.Json);
                    actual = Resolve(doc.RootElement, field);
                }
                if ((actual == value) != equal) return false;
            }
            return true;
        }
        finally
        {
            doc?.Dispose();
        }
    }

    private static string? Resolve(JsonElement e, string path)
    {
        foreach (var seg in path.Split('.'))
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(seg, out e)) return "";
        }
        return e.ValueKind switch
        {
            JsonValueKind.String => e.GetString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Number => e.GetRawText(),
            _ => "",
        };
    }
}

/// <summary>Label and field selectors together.</summary>
internal sealed record ObjectFilter(LabelSelector? Labels, FieldSelector? Fields)
{
    public static ObjectFilter? Parse(string? labelSelector, string? fieldSelector)
    {
        var l = LabelSelector.Parse(labelSelector);
        var f = FieldSelector.Parse(fieldSelector);
        return l is null && f is null ? null : new ObjectFilter(l, f);
    }

    public bool Matches(StoredObject obj) =>
        (Labels is null || Labels.Matches(obj.Labels)) && (Fields is null || Fields.Matches(obj));
}
