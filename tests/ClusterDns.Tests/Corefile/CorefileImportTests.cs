using ClusterDns.Server.Corefile;

namespace ClusterDns.Tests.Corefile;

/// <summary>Imports of files and globs, and reading the Corefile through a ConfigMap-style symlink, in a temp directory.</summary>
public sealed class CorefileImportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("corefile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string relativePath, string text)
    {
        string path = Path.Combine(_dir, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Imported_directives_keep_their_own_file_and_line()
    {
        string common = Write("common.conf", "# shared\nerrors\ncache 30 {\n  success 1000\n}\n");
        string corefile = Write("Corefile", ".:53 {\n  import common.conf\n  log\n}\n");

        var document = CorefileParser.ParseFile(corefile);

        ServerBlock block = Assert.Single(document.ServerBlocks);
        Assert.Equal(
            [("errors", common, 2), ("cache", common, 3), ("log", corefile, 3)],
            block.Directives.Select(d => (d.Name, d.File, d.Line)));
        Assert.Equal((common, 4), (block.Directives[1].Block[0].File, block.Directives[1].Block[0].Line));
        Assert.Equal([corefile, common], document.Files);
        Assert.Equal(".:53 {\n  import common.conf\n  log\n}\n", document.Text);
    }

    [Fact]
    public void A_glob_imports_matching_files_in_name_order_relative_to_the_importing_file()
    {
        string b = Write("conf.d/b.server", "b.org {\n  whoami\n}\n");
        string a = Write("conf.d/a.server", "a.org {\n  import ../snippets/log.conf\n}\n");
        string log = Write("snippets/log.conf", "log\n");
        Write("conf.d/notes.txt", "this is not a Corefile {");
        Directory.CreateDirectory(Path.Combine(_dir, "conf.d", "..data.server"));
        string corefile = Write("Corefile", ". {\n  whoami\n}\nimport conf.d/*.server\n");

        var document = CorefileParser.ParseFile(corefile);

        Assert.Equal(
            """
            block @1 dns://.
              whoami @2
            block @1 dns://a.org.
              log @1
            block @1 dns://b.org.
              whoami @2

            """,
            CorefileRendering.Render(document));
        Assert.Equal(
            [a, log, b],
            [document.ServerBlocks[1].File, document.ServerBlocks[1].Directives[0].File, document.ServerBlocks[2].File]);
        Assert.Equal([corefile, a, b, log], document.Files);
        Assert.Empty(document.Warnings);
    }

    [Fact]
    public void An_import_path_may_come_from_the_environment()
    {
        Write("site/extra.conf", "ready\n");
        string corefile = Write("Corefile", ". {\n  import {$SITE}/extra.conf\n}\n");

        var document = CorefileParser.ParseFile(corefile, name => name == "SITE" ? "site" : null);

        Assert.Equal("ready", Assert.Single(document.ServerBlocks[0].Directives).Name);
    }

    [Fact]
    public void A_glob_that_matches_nothing_is_a_warning_not_an_error()
    {
        string corefile = Write("Corefile", ".:53 {\n  import custom/*.override\n  whoami\n}\n");

        var document = CorefileParser.ParseFile(corefile);

        Assert.Equal("whoami", Assert.Single(document.ServerBlocks[0].Directives).Name);
        Assert.Contains("custom/*.override", Assert.Single(document.Warnings));
        Assert.StartsWith($"{corefile}:2 - ", document.Warnings[0]);
    }

    [Fact]
    public void Parse_resolves_imports_against_the_directory_of_the_file_name()
    {
        Write("extra.conf", "ready\n");

        var document = CorefileParser.Parse(". {\n  import extra.conf\n}\n", Path.Combine(_dir, "Corefile"));

        Assert.Equal("ready", Assert.Single(document.ServerBlocks[0].Directives).Name);
        Assert.Equal([Path.Combine(_dir, "extra.conf")], document.Files);
    }

    [Fact]
    public void Reads_a_configmap_mount_through_its_symlinks()
    {
        // The kubelet mounts a ConfigMap as KEY -> ..data/KEY, ..data -> ..2024_01_01_timestamp/.
        Write("..2024_01_01/Corefile", ".:53 {\n  import extra.conf\n}\n");
        Write("..2024_01_01/extra.conf", "health\n");
        Directory.CreateSymbolicLink(Path.Combine(_dir, "..data"), "..2024_01_01");
        File.CreateSymbolicLink(Path.Combine(_dir, "Corefile"), "..data/Corefile");
        File.CreateSymbolicLink(Path.Combine(_dir, "extra.conf"), "..data/extra.conf");
        string corefile = Path.Combine(_dir, "Corefile");

        var document = CorefileParser.ParseFile(corefile);

        Directive health = Assert.Single(document.ServerBlocks[0].Directives);
        Assert.Equal(("health", Path.Combine(_dir, "extra.conf")), (health.Name, health.File));
        Assert.Equal([corefile, Path.Combine(_dir, "extra.conf")], document.Files);
    }

    [Fact]
    public void An_error_in_an_imported_file_names_that_file_and_line()
    {
        string bad = Write("bad.conf", "errors\n\nhealth {\n");
        string corefile = Write("Corefile", ". {\n  import bad.conf\n}\n");

        var error = Assert.Throws<CorefileException>(() => CorefileParser.ParseFile(corefile));

        Assert.Equal((bad, 3), (error.File, error.Line));
        Assert.Contains("never closed", error.Detail);
    }

    [Fact]
    public void A_stray_closing_brace_in_an_imported_file_names_that_file_and_line()
    {
        string bad = Write("bad.conf", "errors\n}\n");
        string corefile = Write("Corefile", ". {\n  import bad.conf\n  log\n}\n");

        var error = Assert.Throws<CorefileException>(() => CorefileParser.ParseFile(corefile));

        Assert.Equal((bad, 2), (error.File, error.Line));
        Assert.Contains("unexpected '}'", error.Detail);
    }

    [Fact]
    public void A_missing_import_file_is_an_error_at_the_import()
    {
        string corefile = Write("Corefile", ". {\n  whoami\n  import missing.conf\n}\n");

        var error = Assert.Throws<CorefileException>(() => CorefileParser.ParseFile(corefile));

        Assert.Equal((corefile, 3), (error.File, error.Line));
        Assert.Contains("not found", error.Detail);
        Assert.Contains(Path.Combine(_dir, "missing.conf"), error.Detail);
    }

    [Fact]
    public void An_import_cycle_is_an_error_naming_the_chain()
    {
        string a = Write("a.conf", "log\nimport b.conf\n");
        string b = Write("b.conf", "\nimport a.conf\n");
        string corefile = Write("Corefile", ". {\n  import a.conf\n}\n");

        var error = Assert.Throws<CorefileException>(() => CorefileParser.ParseFile(corefile));

        Assert.Equal((b, 2), (error.File, error.Line));
        Assert.Contains($"import cycle: {corefile} -> {a} -> {b} -> {a}", error.Detail);
    }

    [Fact]
    public void The_same_file_imported_twice_side_by_side_is_not_a_cycle()
    {
        Write("common.conf", "errors\n");
        string corefile = Write("Corefile", "a.org {\n  import common.conf\n}\nb.org {\n  import common.conf\n}\n");

        var document = CorefileParser.ParseFile(corefile);

        Assert.All(document.ServerBlocks, block => Assert.Equal("errors", Assert.Single(block.Directives).Name));
        Assert.Equal(2, document.Files.Count);
    }

    [Fact]
    public void Importing_a_directory_is_an_error()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "custom"));
        string corefile = Write("Corefile", ". {\n  import custom\n}\n");

        var error = Assert.Throws<CorefileException>(() => CorefileParser.ParseFile(corefile));

        Assert.Equal((corefile, 2), (error.File, error.Line));
        Assert.Contains("is a directory", error.Detail);
    }

    [Fact]
    public void A_missing_corefile_is_an_error_naming_it()
    {
        string corefile = Path.Combine(_dir, "Corefile");

        var error = Assert.Throws<CorefileException>(() => CorefileParser.ParseFile(corefile));

        Assert.Equal(corefile, error.File);
        Assert.Contains("cannot read", error.Detail);
    }
}
