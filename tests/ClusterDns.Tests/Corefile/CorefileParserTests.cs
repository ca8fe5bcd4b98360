using ClusterDns.Server.Corefile;

namespace ClusterDns.Tests.Corefile;

public sealed class CorefileParserTests
{
    private static readonly Dictionary<string, string> Variables = new()
    {
        ["ZONE"] = "Cluster.Local",
        ["PORT"] = "1053",
        ["UPSTREAM"] = "10.0.0.10",
        ["WIN"] = "windows-style",
    };

    private static string? Env(string name) => Variables.GetValueOrDefault(name);

    private static string Parse(string corefile) =>
        CorefileRendering.Render(CorefileParser.Parse(corefile, "Corefile", Env));

    public static TheoryData<string, string, string> GoodCorefiles => new()
    {
        {
            "the stock kubeadm Corefile",
            """
            .:53 {
                errors
                health {
                   lameduck 5s
                }
                ready
                kubernetes cluster.local in-addr.arpa ip6.arpa {
                   pods insecure
                   fallthrough in-addr.arpa ip6.arpa
                   ttl 30
                }
                prometheus :9153
                forward . /etc/resolv.conf {
                   max_concurrent 1000
                }
                cache 30
                loop
                reload
                loadbalance
            }
            """,
            """
            block @1 dns://.:53
              errors @2
              health @3
                lameduck 5s @4
              ready @6
              kubernetes cluster.local in-addr.arpa ip6.arpa @7
                pods insecure @8
                fallthrough in-addr.arpa ip6.arpa @9
                ttl 30 @10
              prometheus :9153 @12
              forward . /etc/resolv.conf @13
                max_concurrent 1000 @14
              cache 30 @16
              loop @17
              reload @18
              loadbalance @19

            """
        },
        {
            "several blocks, several zones per block, ports, schemes and case",
            """
            cluster.local:53 in-addr.arpa {
                whoami
            }
            Example.ORG. dns://example.com:5353 {
                log
            }
            dns://.:5353 {
            }
            . {
                errors
            }
            """,
            """
            block @1 dns://cluster.local.:53 dns://in-addr.arpa.
              whoami @2
            block @4 dns://example.org. dns://example.com.:5353
              log @5
            block @7 dns://.:5353
            block @9 dns://.
              errors @10

            """
        },
        {
            "keys separated by commas, continued on the next line after a trailing comma",
            """
            a.org,b.org,
              c.org, d.org
            {
                whoami
            }
            """,
            """
            block @1 dns://a.org. dns://b.org. dns://c.org. dns://d.org.
              whoami @4

            """
        },
        {
            "reverse CIDR keys: aligned, split on the next label boundary, IPv6 nibbles, with a port",
            """
            10.0.0.0/24 172.16.0.0/16:53 {
                whoami
            }
            10.1.0.0/22 192.168.1.0/23 10.0.0.6/30 {
                whoami
            }
            fd00::/7 2001:db8::/32:1053 0.0.0.0/0 {
                whoami
            }
            """,
            """
            block @1 dns://0.0.10.in-addr.arpa. dns://16.172.in-addr.arpa.:53
              whoami @2
            block @4 dns://0.1.10.in-addr.arpa. dns://1.1.10.in-addr.arpa. dns://2.1.10.in-addr.arpa. dns://3.1.10.in-addr.arpa. dns://0.168.192.in-addr.arpa. dns://1.168.192.in-addr.arpa. dns://4.0.0.10.in-addr.arpa. dns://5.0.0.10.in-addr.arpa. dns://6.0.0.10.in-addr.arpa. dns://7.0.0.10.in-addr.arpa.
              whoami @5
            block @7 dns://c.f.ip6.arpa. dns://d.f.ip6.arpa. dns://8.b.d.0.1.0.0.2.ip6.arpa.:1053 dns://in-addr.arpa.
              whoami @8

            """
        },
        {
            "environment variables in keys and arguments, unset ones empty, both syntaxes",
            """
            {$ZONE}:{$PORT} {
                forward . {$UPSTREAM}:53 {%WIN%}
                log prefix-{$NOT_SET}-suffix "{$ZONE}"
            }
            """,
            """
            block @1 dns://cluster.local.:1053
              forward . 10.0.0.10:53 windows-style @2
              log prefix--suffix "Cluster.Local" @3

            """
        },
        {
            "quoted tokens: spaces, escaped quotes, other backslashes kept, braces as text, across lines",
            """
            . {
                template IN A example.org {
                    answer "{{ .Name }} 60 IN A 127.0.0.1"
                }
                rewrite name regex "(.*)\.example\.org" "say \"hi\"" "{"
                path "c:\\dir\\" "" x"y"z
                hosts "a
            b" after
                next
            }
            """,
            """
            block @1 dns://.
              template IN A example.org @2
                answer "{{ .Name }} 60 IN A 127.0.0.1" @3
              rewrite name regex "(.*)\.example\.org" "say "hi"" "{" @5
              path "c:\\dir\\" "" x"y"z @6
              hosts "a
            b" after @7
              next @9

            """
        },
        {
            "comments: whole lines, after arguments, in the middle of a word, not inside quotes",
            """
            # the cluster's DNS
            .:53 { # every name
                # errors
                log # to stdout
                cache 30#seconds
                hosts "a#b" c
            }
            """,
            """
            block @2 dns://.:53
              log @4
              cache 30 @5
              hosts "a#b" c @6

            """
        },
        {
            "nested blocks and one-line blocks ('{}' without a space is one token, as in CoreDNS)",
            """
            . {
                outer a {
                    middle b {
                        inner c
                    }
                    sibling
                }
                health { lameduck 5s }
                empty {}
            }
            example.org { whoami }
            """,
            """
            block @1 dns://.
              outer a @2
                middle b @3
                  inner c @4
                sibling @6
              health @8
                lameduck 5s @8
              empty {} @9
            block @11 dns://example.org.
              whoami @11

            """
        },
        {
            "snippets with arguments, imported at top level, in a block and in a directive block",
            """
            (upstream) {
                forward . {args[0]} {
                    max_concurrent {args[1]}
                }
            }
            (common) {
                errors
                log {args[:]}
            }
            (zone) {
                {args[0]} {
                    import common
                }
            }
            .:53 {
                import upstream 8.8.8.8 100
                import common class denial "with space"
                kubernetes cluster.local {
                    import common
                }
            }
            import zone example.org
            """,
            """
            block @15 dns://.:53
              forward . 8.8.8.8 @2
                max_concurrent 100 @3
              errors @7
              log class denial "with space" @8
              kubernetes cluster.local @18
                errors @7
                log @8
            block @11 dns://example.org.
              errors @7
              log @8

            """
        },
        {
            "a single server block may leave out its braces",
            """
            example.org:1053
            whoami
            log stdout
            """,
            """
            block @1 dns://example.org.:1053
              whoami @2
              log stdout @3

            """
        },
        {
            "the block's brace may be on the line after its keys; CRLF line endings",
            ".:53\r\n{\r\n    errors\r\n    cache 30\r\n}\r\n",
            """
            block @1 dns://.:53
              errors @3
              cache 30 @4

            """
        },
    };

    [Theory]
    [MemberData(nameof(GoodCorefiles))]
    public void Parses_good_corefiles(string name, string corefile, string expected)
    {
        Assert.False(string.IsNullOrEmpty(name));
        Assert.Equal(expected.ReplaceLineEndings("\n"), Parse(corefile));
    }

    [Fact]
    public void Tokens_keep_their_text_file_line_and_quoting()
    {
        var document = CorefileParser.Parse(". {\n  forward . \"1.1.1.1\"   {$UPSTREAM}\n}\n", "/etc/coredns/Corefile", Env);

        Directive forward = Assert.Single(Assert.Single(document.ServerBlocks).Directives);
        Assert.Equal(("forward", "/etc/coredns/Corefile", 2), (forward.Name, forward.File, forward.Line));
        Assert.Equal(
            [new CorefileToken(".", "/etc/coredns/Corefile", 2), new CorefileToken("1.1.1.1", "/etc/coredns/Corefile", 2, true), new CorefileToken("10.0.0.10", "/etc/coredns/Corefile", 2)],
            forward.Arguments);
        Assert.Equal(". {\n  forward . \"1.1.1.1\"   {$UPSTREAM}\n}\n", document.Text);
        Assert.Empty(document.Files);
        ServerKey key = Assert.Single(document.ServerBlocks[0].Keys);
        Assert.Equal(new ServerKey("dns", ".", null, "."), key);
    }

    [Fact]
    public void Environment_defaults_to_the_process_environment()
    {
        string name = "CLUSTERDNS_PARSER_TEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, "9.9.9.9");
        try
        {
            var document = CorefileParser.Parse($". {{\n forward . {{${name}}}\n}}", "Corefile");
            Assert.Equal("9.9.9.9", document.ServerBlocks[0].Directives[0].Arguments[1].Text);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    public static TheoryData<string, int, string[]> BadCorefiles => new()
    {
        { ". {\n  errors\n  health {\n    lameduck 5s\n}\n", 1, ["'{'", "never closed"] },
        { ". {\n  errors\n  health {\n    lameduck 5s\n", 3, ["'{'", "never closed"] },
        { ". {\n  errors\n}\n}\n", 4, ["unexpected '}'"] },
        { "}\n", 1, ["unexpected '}'"] },
        { "{\n  errors\n}\n", 1, ["no keys"] },
        { ". {\n  health\n  {\n    lameduck 5s\n  }\n}\n", 3, ["unexpected '{'", "health {"] },
        { ". {\n  health { lameduck 5s } ready\n}\n", 2, ["unexpected 'ready'", "health"] },
        { ".:53 {\n}\nexample.org:0 {\n}\n", 3, ["port 0", "1 to 65535", "example.org:0"] },
        { "example.org:70000 {\n}\n", 1, ["port 70000", "1 to 65535"] },
        { ".: {\n}\n", 1, ["expecting a port"] },
        { ":53 {\n}\n", 1, ["names no zone", "'.:53'"] },
        { "\n\ntls://.:853 {\n}\n", 3, ["tls://", "not supported", "tls://.:853"] },
        { "https://.:443 {\n}\n", 1, ["https://", "not supported"] },
        { "grpc://. {\n}\n", 1, ["grpc://", "not supported"] },
        { "example..org {\n}\n", 1, ["'example..org'", "not a valid zone"] },
        { "10.0.0.0/33 {\n}\n", 1, ["10.0.0.0/33", "not a valid CIDR"] },
        { "10.0/8 {\n}\n", 1, ["not a valid CIDR"] },
        { "example.org {\n}\n\nExample.org:53 {\n}\n", 4, ["zone 'example.org.' is defined more than once on port 53", "Corefile:1"] },
        { "a.org b.org a.org {\n}\n", 1, ["zone 'a.org.' is defined more than once on port 53"] },
        { "10.0.0.0/24 {\n}\n0.0.10.in-addr.arpa {\n}\n", 3, ["zone '0.0.10.in-addr.arpa.' is defined more than once"] },
        { ". {\n  forward . \"8.8.8.8\n}\n", 2, ["quoted string", "never closed"] },
        { "a.org,\n{\n}\n", 2, ["extra comma"] },
        { "a.org,", 1, ["no other key follows"] },
        { ". {\n  whoami\n}\nexample.org\n  log\n", 5, ["expected '{'", "example.org"] },
        { "(base) {\n  log\n}\n. {\n  import nosuch\n}\n", 5, ["no snippet named 'nosuch'"] },
        { ". {\n  import base\n}\n(base) {\n  log\n}\n", 2, ["no snippet named 'base' is defined before this line"] },
        { "(base) {\n  log\n}\n\n(base) {\n  errors\n}\n", 5, ["snippet 'base' is defined more than once", "Corefile:1"] },
        { "(base) {\n  log\n  import base\n}\n. {\n  import base\n}\n", 3, ["import cycle", "(base) -> (base)"] },
        { "(a) {\n  import b\n}\n(b) {\n  import a\n}\n. {\n  import a\n}\n", 5, ["import cycle", "(a) -> (b) -> (a)"] },
        { "(base)\n. {\n}\n", 1, ["snippet '(base)' needs a block"] },
        { "(base) {\n  log\n", 1, ["snippet 'base'", "never closed"] },
        { "(pair) {\n  forward . {args[0]} {args[1]}\n}\n. {\n  import pair 1.1.1.1\n}\n", 2, ["{args[1]}", "1 passed", "Corefile:5"] },
        { ". {\n  import\n}\n", 2, ["import needs"] },
    };

    [Theory]
    [MemberData(nameof(BadCorefiles))]
    public void Rejects_bad_corefiles_with_file_line_and_reason(string corefile, int line, string[] words)
    {
        var error = Assert.Throws<CorefileException>(() => CorefileParser.Parse(corefile, "Corefile", Env));

        Assert.Equal(("Corefile", line), (error.File, error.Line));
        Assert.Null(error.Directive);
        Assert.StartsWith($"Corefile:{line} - Error during parsing: ", error.Message);
        foreach (string word in words)
            Assert.Contains(word, error.Detail);
    }
}
