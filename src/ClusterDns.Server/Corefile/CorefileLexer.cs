using System.Text;

namespace ClusterDns.Server.Corefile;

/// <summary>
/// Where a token came from on its way into the token stream: the file it was read from, or the snippet
/// it was copied out of, and what imported that. Walking <see cref="Parent"/> is how an import cycle is found.
/// </summary>
internal sealed record ImportFrame(string Source, ImportFrame? Parent);

/// <summary>A token as the lexer produced it, before environment variables and import arguments are applied.</summary>
internal sealed record Lexeme(string Text, string File, int Line, bool Quoted, bool StartsLine, ImportFrame Origin)
{
    /// <summary>
    /// True for an unquoted <c>{</c> or <c>}</c>: quoting is how an operator writes a brace as plain text.
    /// (CoreDNS treats a quoted brace as a brace too; no working Corefile relies on that.)
    /// </summary>
    public bool Is(string structural) => !Quoted && Text == structural;
}

/// <summary>
/// Splits Corefile text into tokens exactly as the Caddy v1 lexer under CoreDNS does: whitespace separates tokens,
/// a token that starts with <c>"</c> runs to the next unescaped <c>"</c> (across lines if need be; only <c>\"</c>
/// is an escape, any other backslash is kept), and <c>#</c> outside quotes comments out the rest of the line,
/// even in the middle of a word.
/// </summary>
internal static class CorefileLexer
{
    public static List<Lexeme> Lex(string text, string file, ImportFrame origin)
    {
        var tokens = new List<Lexeme>();
        var value = new StringBuilder();
        int line = 1, tokenLine = 0, previousEndLine = 0;
        bool inToken = false, quoted = false, comment = false;

        void Emit()
        {
            // The parser ends a directive at the first token of a new line; a quoted token that spans lines
            // counts as ending on its last line, so the token after it on that line is still an argument.
            tokens.Add(new Lexeme(value.ToString(), file, tokenLine, quoted, tokens.Count == 0 || tokenLine > previousEndLine, origin));
            previousEndLine = line;
            value.Clear();
            inToken = false;
            quoted = false;
        }

        int i = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        for (; i < text.Length; i++)
        {
            char ch = text[i];
            if (quoted)
            {
                if (ch == '\\' && i + 1 < text.Length)
                {
                    char next = text[++i];
                    if (next != '"')
                        value.Append('\\');
                    if (next == '\n')
                        line++;
                    value.Append(next);
                }
                else if (ch == '"')
                {
                    Emit();
                }
                else
                {
                    if (ch == '\n')
                        line++;
                    value.Append(ch);
                }
                continue;
            }

            if (char.IsWhiteSpace(ch))
            {
                if (inToken)
                    Emit();
                if (ch == '\n')
                {
                    line++;
                    comment = false;
                }
                continue;
            }

            if (ch == '#')
                comment = true;
            if (comment)
                continue;

            if (!inToken)
            {
                inToken = true;
                tokenLine = line;
                if (ch == '"')
                {
                    quoted = true;
                    continue;
                }
            }
            value.Append(ch);
        }

        if (quoted)
            throw new CorefileException(file, tokenLine, null, "the quoted string that starts on this line is never closed: add the closing '\"'");
        if (inToken)
            Emit();
        return tokens;
    }
}
