using System.Text;
using ClusterDns.Server.Corefile;

namespace ClusterDns.Tests.Corefile;

/// <summary>
/// Renders a parsed document as text, one line per block and per directive, so a test table can state the whole
/// expected tree (keys, zones, ports, names, arguments, children, file:line) in a few readable lines.
/// </summary>
internal static class CorefileRendering
{
    public static string Render(CorefileDocument document)
    {
        var text = new StringBuilder();
        foreach (ServerBlock block in document.ServerBlocks)
        {
            text.Append("block @").Append(block.Line);
            foreach (ServerKey key in block.Keys)
                text.Append(' ').Append(key.Scheme).Append("://").Append(key.Zone).Append(key.Port is null ? "" : ":" + key.Port);
            text.Append('\n');
            Render(block.Directives, 1, text);
        }
        return text.ToString();
    }

    private static void Render(IReadOnlyList<Directive> directives, int depth, StringBuilder text)
    {
        foreach (Directive directive in directives)
        {
            text.Append(' ', depth * 2).Append(directive.Name);
            foreach (CorefileToken argument in directive.Arguments)
                text.Append(' ').Append(argument.Quoted ? "\"" + argument.Text + "\"" : argument.Text);
            text.Append(" @").Append(directive.Line).Append('\n');
            Render(directive.Block, depth + 1, text);
        }
    }
}
