using System.Globalization;
using System.Text;

namespace ClusterDns.Server.Corefile;

/// <summary>
/// Reads a Corefile as CoreDNS (its Caddy v1 parser) does: server blocks of keys and directives, <c>import</c> of
/// files, globs and snippets, <c>{$VAR}</c>/<c>{%VAR%}</c> environment substitution. It knows no directive names:
/// the plugin registry rejects unknown ones later, using <see cref="Directive.File"/> and <see cref="Directive.Line"/>.
/// </summary>
public static class CorefileParser
{
    /// <summary>The port a key without one is served on, for telling duplicate zones apart.</summary>
    private const int DefaultPort = 53;

    /// <summary>
    /// Parses the Corefile at <paramref name="path"/>, read through the path as given (a kubelet ConfigMap mount is a
    /// symlink into <c>..data</c>). <see cref="CorefileDocument.Files"/> starts with its absolute path.
    /// </summary>
    public static CorefileDocument ParseFile(string path, Func<string, string?>? environment = null)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CorefileException(path, 0, null, $"cannot read the Corefile: {e.Message}");
        }
        return new Parser(path, environment, mainFileRead: true).Run(text);
    }

    /// <summary>
    /// Parses Corefile <paramref name="text"/> as if read from <paramref name="fileName"/>: errors name that file, and
    /// relative imports resolve against its directory. <see cref="CorefileDocument.Files"/> lists only imported files.
    /// </summary>
    public static CorefileDocument Parse(string text, string fileName, Func<string, string?>? environment = null) =>
        new Parser(fileName, environment, mainFileRead: false).Run(text);

    private sealed record Snippet(List<Lexeme> Body, Lexeme Definition);

    /// <summary>
    /// One parse. Tokens sit in one list; an <c>import</c> line is replaced in place by the tokens it brings in, which
    /// keep their own file and line, so whatever follows never needs to know an import happened.
    /// </summary>
    private sealed class Parser(string fileName, Func<string, string?>? environment, bool mainFileRead)
    {
        private readonly Func<string, string?> _environment = environment ?? Environment.GetEnvironmentVariable;
        private readonly Dictionary<string, Snippet> _snippets = new(StringComparer.Ordinal);
        private readonly Dictionary<(string Zone, int Port), Lexeme> _zones = [];
        private readonly List<string> _files = [];
        private readonly List<string> _warnings = [];
        private List<Lexeme> _tokens = [];
        private int _pos;

        public CorefileDocument Run(string text)
        {
            string fullPath = Path.GetFullPath(fileName);
            if (mainFileRead)
                _files.Add(fullPath);
            _tokens = CorefileLexer.Lex(text, fileName, new ImportFrame(fullPath, null));

            var blocks = new List<ServerBlock>();
            while (_pos < _tokens.Count)
            {
                Lexeme token = _tokens[_pos];
                if (token.Is("import") && token.StartsLine)
                    ExpandImport();
                else if (token.Is("}"))
                    throw Error(token, "unexpected '}': there is no '{' open for it to close");
                else if (token.Is("{"))
                    throw Error(token, "'{' opens a server block that has no keys: put its zones first, as in '.:53 {'");
                else
                    ParseServerBlockOrSnippet(blocks);
            }
            return new CorefileDocument(blocks, _files, text) { Warnings = _warnings };
        }

        private void ParseServerBlockOrSnippet(List<ServerBlock> blocks)
        {
            Lexeme first = _tokens[_pos];
            var keys = new List<(string Text, Lexeme Token)>();
            Lexeme last = first;
            bool expectingAnother = false; // a key ended with ',': the next one may be on the next line
            bool consumedAny = false;
            while (_pos < _tokens.Count)
            {
                Lexeme token = _tokens[_pos];
                if (token.Is("{"))
                {
                    if (expectingAnother)
                        throw Error(token, "expected another key after ',' but found '{': check for an extra comma");
                    break;
                }
                if (token.StartsLine && consumedAny && !expectingAnother)
                    break;
                if (token.Is("}"))
                    throw Error(token, "unexpected '}': there is no '{' open for it to close");
                if (token.Is("import") && token.StartsLine)
                {
                    ExpandImport();
                    continue;
                }

                _pos++;
                consumedAny = true;
                last = token;
                string[] parts = Substitute(token.Text).Split(',');
                foreach (string part in parts)
                {
                    if (part.Length > 0)
                        keys.Add((part, token));
                }
                expectingAnother = parts.Length > 1 && parts[^1].Length == 0;
            }
            if (expectingAnother)
                throw Error(last, "the keys end with ',' but no other key follows");
            if (keys.Count == 0)
                throw Error(first, "a server block needs at least one key (a zone, as in '.:53')");

            bool hasBrace = _pos < _tokens.Count && _tokens[_pos].Is("{");
            if (keys.Count == 1 && keys[0].Text.Length > 2 && keys[0].Text[0] == '(' && keys[0].Text[^1] == ')')
            {
                DefineSnippet(keys[0].Text[1..^1], first, hasBrace);
                return;
            }

            var serverKeys = new List<ServerKey>();
            foreach ((string text, Lexeme token) in keys)
            {
                foreach (ServerKey key in ServerKeyParser.Parse(text, token))
                {
                    (string Zone, int Port) id = (key.Zone, key.Port ?? DefaultPort);
                    if (_zones.TryGetValue(id, out Lexeme? earlier))
                        throw Error(token, $"zone '{key.Zone}' is defined more than once on port {id.Port} (first at {earlier.File}:{earlier.Line})");
                    _zones.Add(id, token);
                    serverKeys.Add(key);
                }
            }

            List<Directive> directives;
            if (hasBrace)
            {
                directives = ParseDirectives(_tokens[_pos++]);
            }
            else if (blocks.Count == 0)
            {
                // Caddy lets a Corefile of one server block leave out the braces; the directives then run to the end.
                directives = ParseDirectives(null);
            }
            else
            {
                Lexeme at = _pos < _tokens.Count ? _tokens[_pos] : last;
                throw Error(at, $"expected '{{' to open the server block of '{keys[0].Text}'");
            }
            blocks.Add(new ServerBlock(serverKeys, directives, first.File, first.Line));
        }

        private void DefineSnippet(string name, Lexeme definition, bool hasBrace)
        {
            if (!hasBrace)
                throw Error(definition, $"snippet '({name})' needs a block: '({name}) {{ ... }}'");
            if (_snippets.TryGetValue(name, out Snippet? earlier))
                throw Error(definition, $"snippet '{name}' is defined more than once (first at {earlier.Definition.File}:{earlier.Definition.Line})");

            // The body is kept as raw tokens and parsed where it is imported: it may hold directives or whole blocks.
            Lexeme open = _tokens[_pos++];
            var body = new List<Lexeme>();
            int depth = 1;
            while (true)
            {
                if (_pos >= _tokens.Count)
                    throw Error(open, $"the '{{' of snippet '{name}' is never closed: add the matching '}}'");
                Lexeme token = _tokens[_pos++];
                if (token.Is("{"))
                    depth++;
                else if (token.Is("}") && --depth == 0)
                    break;
                body.Add(token);
            }
            _snippets.Add(name, new Snippet(body, definition));
        }

        /// <summary>Directives up to the <c>}</c> matching <paramref name="open"/>, or to the end of input when it is null.</summary>
        private List<Directive> ParseDirectives(Lexeme? open)
        {
            var directives = new List<Directive>();
            while (true)
            {
                if (_pos >= _tokens.Count)
                {
                    if (open is not null)
                        throw Error(open, "this '{' is never closed: add the matching '}'");
                    return directives;
                }
                Lexeme token = _tokens[_pos];
                if (token.Is("}"))
                {
                    if (open is null)
                        throw Error(token, "unexpected '}': there is no '{' open for it to close");
                    _pos++;
                    return directives;
                }
                if (token.Is("{"))
                    throw Error(token, "unexpected '{': a block opens at the end of its directive's line, as in 'health {'");
                if (token.Is("import"))
                    ExpandImport();
                else
                    directives.Add(ParseDirective());
            }
        }

        /// <summary>A name, its arguments to the end of the line, and its block if the line ends with <c>{</c>.</summary>
        private Directive ParseDirective()
        {
            Lexeme name = _tokens[_pos++];
            var arguments = new List<CorefileToken>();
            List<Directive> block = [];
            while (_pos < _tokens.Count)
            {
                Lexeme token = _tokens[_pos];
                if (token.StartsLine || token.Is("}"))
                    break; // a '}' on the same line closes the enclosing block: '. { whoami }'
                _pos++;
                if (token.Is("{"))
                {
                    block = ParseDirectives(token);
                    if (_pos < _tokens.Count && !_tokens[_pos].StartsLine && !_tokens[_pos].Is("}"))
                        throw Error(_tokens[_pos], $"unexpected '{_tokens[_pos].Text}' after the block of '{name.Text}': start a new line");
                    break;
                }
                arguments.Add(new CorefileToken(Substitute(token.Text), token.File, token.Line, token.Quoted));
            }
            return new Directive(Substitute(name.Text), arguments, block, name.File, name.Line);
        }

        /// <summary>
        /// Replaces the <c>import</c> line at the cursor by the tokens of the snippet or of the files it names. The
        /// cursor stays put, so the caller goes on with the first imported token.
        /// </summary>
        private void ExpandImport()
        {
            Lexeme import = _tokens[_pos];
            int end = _pos + 1;
            while (end < _tokens.Count && !_tokens[end].StartsLine && !_tokens[end].Is("{") && !_tokens[end].Is("}"))
                end++;
            if (end == _pos + 1)
                throw Error(import, "import needs a file, a glob pattern or a snippet name");
            string pattern = Substitute(_tokens[_pos + 1].Text);
            if (pattern.Length == 0)
                throw Error(import, "import needs a non-empty file, glob pattern or snippet name");
            var arguments = new List<Lexeme>();
            for (int i = _pos + 2; i < end; i++)
                arguments.Add(_tokens[i] with { Text = Substitute(_tokens[i].Text) });

            var imported = new List<Lexeme>();
            if (_snippets.TryGetValue(pattern, out Snippet? snippet))
            {
                var origin = new ImportFrame($"({pattern})", import.Origin);
                CheckCycle(import, origin);
                foreach (Lexeme token in snippet.Body)
                    imported.Add(token with { Origin = origin });
            }
            else
            {
                foreach (string file in ImportFiles(import, pattern))
                {
                    var origin = new ImportFrame(file, import.Origin);
                    CheckCycle(import, origin);
                    string text;
                    try
                    {
                        text = File.ReadAllText(file);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        throw Error(import, $"could not import {file}: {e.Message}");
                    }
                    if (!_files.Contains(file))
                        _files.Add(file);
                    List<Lexeme> tokens = CorefileLexer.Lex(text, file, origin);
                    CheckBalanced(tokens);
                    imported.AddRange(tokens);
                }
            }

            imported = ReplaceArguments(imported, arguments, import);
            // The import stood at the start of a line, so what it brings in does too.
            if (imported.Count > 0)
                imported[0] = imported[0] with { StartsLine = true };
            _tokens.RemoveRange(_pos, end - _pos);
            _tokens.InsertRange(_pos, imported);
        }

        /// <summary>The files an import pattern names, relative to the file of the import itself.</summary>
        private List<string> ImportFiles(Lexeme import, string pattern)
        {
            string directory = Path.GetDirectoryName(Path.GetFullPath(import.File)) ?? Directory.GetCurrentDirectory();
            string path = Path.GetFullPath(Path.Combine(directory, pattern));
            string name = Path.GetFileName(path);
            string folder = Path.GetDirectoryName(path) ?? directory;

            if (name.IndexOfAny(['*', '?']) < 0 && folder.IndexOfAny(['*', '?']) < 0)
            {
                if (File.Exists(path))
                    return [path];
                if (Directory.Exists(path))
                    throw Error(import, $"could not import {path}: it is a directory (import its files with a glob, as in '{pattern.TrimEnd('/')}/*')");
                if (pattern.IndexOfAny(['/', '.']) < 0)
                    throw Error(import, $"no snippet named '{pattern}' is defined before this line, and no file {path} exists");
                throw Error(import, $"file to import not found: {path}");
            }

            if (folder.IndexOfAny(['*', '?']) >= 0)
                throw Error(import, $"import pattern '{pattern}': wildcards are supported only in the file name, not in its directory");
            var matches = new List<string>();
            if (Directory.Exists(folder))
            {
                // Go's filepath.Glob, under CoreDNS, matches dot files too and sorts; directories are left out since
                // they cannot be imported (a ConfigMap mount holds '..data' beside the files).
                var options = new EnumerationOptions { MatchType = MatchType.Simple, AttributesToSkip = 0, MatchCasing = MatchCasing.CaseSensitive, IgnoreInaccessible = false };
                matches.AddRange(Directory.GetFiles(folder, name, options));
                matches.Sort(StringComparer.Ordinal);
            }
            if (matches.Count == 0)
                _warnings.Add($"{import.File}:{import.Line} - no files match import pattern {pattern}");
            return matches;
        }

        /// <summary>
        /// CoreDNS would let an imported file open a brace that the importing file closes; that is never meant, and
        /// the error it leads to points at the wrong file. Here every imported file must close what it opens.
        /// </summary>
        private static void CheckBalanced(List<Lexeme> tokens)
        {
            var open = new Stack<Lexeme>();
            foreach (Lexeme token in tokens)
            {
                if (token.Is("{"))
                    open.Push(token);
                else if (token.Is("}") && !open.TryPop(out _))
                    throw Error(token, "unexpected '}': there is no '{' open for it to close in this imported file");
            }
            if (open.TryPeek(out Lexeme? unclosed))
                throw Error(unclosed, "this '{' is never closed: add the matching '}' (an imported file must close the blocks it opens)");
        }

        private static void CheckCycle(Lexeme import, ImportFrame origin)
        {
            for (ImportFrame? frame = import.Origin; frame is not null; frame = frame.Parent)
            {
                if (frame.Source != origin.Source)
                    continue;
                var chain = new List<string>();
                for (ImportFrame? f = origin; f is not null; f = f.Parent)
                    chain.Insert(0, f.Source);
                throw Error(import, $"import cycle: {string.Join(" -> ", chain)}");
            }
        }

        /// <summary>
        /// Fills in <c>{args[0]}</c>, <c>{args[1]}</c>... from the import's extra arguments. A token that is only
        /// <c>{args[:]}</c> (or a range such as <c>{args[1:]}</c>) becomes one token per argument.
        /// </summary>
        private static List<Lexeme> ReplaceArguments(List<Lexeme> tokens, List<Lexeme> arguments, Lexeme import)
        {
            var result = new List<Lexeme>(tokens.Count);
            foreach (Lexeme token in tokens)
            {
                if (!token.Text.Contains("{args[", StringComparison.Ordinal))
                {
                    result.Add(token);
                    continue;
                }
                if (token.Text.StartsWith("{args[", StringComparison.Ordinal) && token.Text.EndsWith("]}", StringComparison.Ordinal)
                    && token.Text.IndexOf('}') == token.Text.Length - 1 && token.Text.Contains(':'))
                {
                    (int from, int to) = Range(token, token.Text[6..^2], arguments, import);
                    for (int i = from; i < to; i++)
                        result.Add(token with { Text = arguments[i].Text, Quoted = arguments[i].Quoted, StartsLine = token.StartsLine && i == from });
                    continue;
                }

                var text = new StringBuilder();
                int at = 0;
                while (true)
                {
                    int start = token.Text.IndexOf("{args[", at, StringComparison.Ordinal);
                    int close = start < 0 ? -1 : token.Text.IndexOf("]}", start, StringComparison.Ordinal);
                    if (close < 0)
                        break;
                    (int from, int to) = Range(token, token.Text[(start + 6)..close], arguments, import);
                    text.Append(token.Text, at, start - at);
                    for (int i = from; i < to; i++)
                        text.Append(i > from ? " " : "").Append(arguments[i].Text);
                    at = close + 2;
                }
                text.Append(token.Text, at, token.Text.Length - at);
                result.Add(token with { Text = text.ToString() });
            }
            return result;
        }

        /// <summary>The arguments <c>N</c>, <c>N:M</c>, <c>N:</c>, <c>:M</c> or <c>:</c> select, as a half-open range.</summary>
        private static (int From, int To) Range(Lexeme token, string spec, List<Lexeme> arguments, Lexeme import)
        {
            int colon = spec.IndexOf(':');
            string low = colon < 0 ? spec : spec[..colon], high = colon < 0 ? "" : spec[(colon + 1)..];
            int from = 0, to = arguments.Count;
            bool ok = (low.Length == 0 && colon >= 0) || int.TryParse(low, NumberStyles.None, CultureInfo.InvariantCulture, out from);
            ok &= colon < 0 || high.Length == 0 || int.TryParse(high, NumberStyles.None, CultureInfo.InvariantCulture, out to);
            if (colon < 0)
                to = from + 1;
            if (!ok)
                throw Error(token, $"'{{args[{spec}]}}' is not a valid placeholder: use {{args[0]}}, {{args[1:]}} or {{args[:]}}");
            if (to > arguments.Count || from > to)
                throw Error(token, $"'{{args[{spec}]}}' needs more arguments than the {arguments.Count} passed by the import at {import.File}:{import.Line}");
            return (from, to);
        }

        /// <summary>
        /// <c>{$NAME}</c> and <c>{%NAME%}</c> become the variable's value, or nothing when it is unset, as in CoreDNS.
        /// A value is not scanned again, so a variable cannot smuggle in another.
        /// </summary>
        private string Substitute(string text)
        {
            if (!text.Contains('{'))
                return text;
            return SubstituteOne(SubstituteOne(text, "{%", "%}"), "{$", "}");
        }

        private string SubstituteOne(string text, string open, string close)
        {
            var result = new StringBuilder();
            int at = 0;
            while (true)
            {
                int start = text.IndexOf(open, at, StringComparison.Ordinal);
                int end = start < 0 ? -1 : text.IndexOf(close, start + open.Length, StringComparison.Ordinal);
                if (end < 0)
                    break;
                if (end == start + open.Length)
                {
                    result.Append(text, at, end + close.Length - at); // '{$}' names nothing: keep it as written
                }
                else
                {
                    result.Append(text, at, start - at).Append(_environment(text[(start + open.Length)..end]));
                }
                at = end + close.Length;
            }
            return result.Append(text, at, text.Length - at).ToString();
        }

        private static CorefileException Error(Lexeme token, string detail) => new(token.File, token.Line, null, detail);
    }
}
