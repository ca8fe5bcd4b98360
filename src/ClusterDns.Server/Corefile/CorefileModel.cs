namespace ClusterDns.Server.Corefile;

/// <summary>One token of a Corefile, with where it came from (after import, snippet and env expansion).</summary>
public sealed record CorefileToken(string Text, string File, int Line, bool Quoted = false)
{
    public override string ToString() => Text;
}

/// <summary>
/// The parsed Corefile: server blocks in file order. <see cref="Files"/> lists every file read
/// (the Corefile and everything it imported) so reload can watch them all.
/// </summary>
public sealed record CorefileDocument(IReadOnlyList<ServerBlock> ServerBlocks, IReadOnlyList<string> Files, string Text)
{
    /// <summary>What CoreDNS would log as a warning while parsing (an import glob that matches no file), as "file:line - text".</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>A server block: its keys (<c>.:53</c>, <c>cluster.local in-addr.arpa</c>) and directives in Corefile order.</summary>
public sealed record ServerBlock(IReadOnlyList<ServerKey> Keys, IReadOnlyList<Directive> Directives, string File, int Line);

/// <summary>
/// One key of a server block: scheme (<c>dns</c>), zone as a lower-case absolute name (<c>cluster.local.</c>, <c>.</c>)
/// and port (null when the key names none: the server's default port applies).
/// </summary>
public sealed record ServerKey(string Scheme, string Zone, int? Port, string Text);

/// <summary>
/// A directive: its name, its arguments, and the lines of its <c>{ }</c> block, each a directive of its own
/// (so <c>health { lameduck 5s }</c> has one child named <c>lameduck</c> with argument <c>5s</c>).
/// </summary>
public sealed record Directive(string Name, IReadOnlyList<CorefileToken> Arguments, IReadOnlyList<Directive> Block, string File, int Line)
{
    public CorefileException Error(string message) => new(File, Line, Name, message);

    public override string ToString() => Arguments.Count == 0 ? Name : Name + " " + string.Join(' ', Arguments);
}

/// <summary>A Corefile mistake, always naming file, line and (when known) the directive.</summary>
public sealed class CorefileException(string file, int line, string? directive, string detail)
    : Exception(directive is null ? $"{file}:{line} - Error during parsing: {detail}" : $"{file}:{line} - Error during setup of '{directive}': {detail}")
{
    public string File { get; } = file;
    public int Line { get; } = line;
    public string? Directive { get; } = directive;
    public string Detail { get; } = detail;
}
