using System.Diagnostics;
using System.Globalization;
using System.Net;
using ClusterDns.EndToEnd.Tests.Upstream;

namespace ClusterDns.EndToEnd.Tests.Executable;

/// <summary>What the running executable listens on, read from /proc as `ss -lntup` would: the Corefile's addresses and nothing else.</summary>
public sealed class ListeningSocketsTests
{
    private static readonly string Executable = Path.Combine(AppContext.BaseDirectory, "ClusterDns.dll");

    [Fact]
    public async Task Only_the_dns_port_and_the_http_addresses_the_corefile_names_are_open()
    {
        int dns = RealResolver.FreePort(), health = RealResolver.FreePort(), ready = RealResolver.FreePort(), metrics = RealResolver.FreePort();
        var directory = Directory.CreateTempSubdirectory("clusterdns-listen-");
        var corefile = Path.Combine(directory.FullName, "Corefile");
        await File.WriteAllTextAsync(corefile,
            $".:{dns} {{\n    health 127.0.0.1:{health}\n    ready 127.0.0.1:{ready}\n    prometheus 127.0.0.1:{metrics}\n    whoami\n}}\n");
        using var process = Process.Start(new ProcessStartInfo("dotnet", [Executable, "-conf", corefile, "-quiet"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            Assert.NotNull(await ExecutableProcess.QueryUntilAnsweredAsync(new IPEndPoint(IPAddress.Loopback, dns), "listen.example."));
            using var http = new HttpClient();
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{metrics}/metrics")).StatusCode);

            var listening = ListeningSockets(process.Id);

            var expected = new SortedSet<string>(StringComparer.Ordinal)
            {
                $"udp *:{dns}", $"tcp *:{dns}",
                $"tcp 127.0.0.1:{health}", $"tcp 127.0.0.1:{ready}", $"tcp 127.0.0.1:{metrics}",
            };
            Assert.Equal(expected, listening);
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
            directory.Delete(recursive: true);
        }
    }

    /// <summary>"proto address:port" of every listening TCP and unconnected UDP socket the process holds; any address shows as *.</summary>
    private static SortedSet<string> ListeningSockets(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFiles($"/proc/{pid}/fd"))
        {
            var target = new FileInfo(fd).LinkTarget;
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)) inodes.Add(target[8..^1]);
        }
        var result = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (file, proto, state) in new[] { ("tcp", "tcp", "0A"), ("tcp6", "tcp", "0A"), ("udp", "udp", "07"), ("udp6", "udp", "07") })
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/net/{file}").Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields[3] != state || !inodes.Contains(fields[9])) continue;
                result.Add($"{proto} {FormatAddress(fields[1])}");
            }
        }
        return result;
    }

    /// <summary>/proc/net's "0100007F:1F90" (IPv4) or 32 hex digits (IPv6), each 32-bit word in host order.</summary>
    private static string FormatAddress(string field)
    {
        var colon = field.IndexOf(':');
        var hex = field[..colon];
        var port = int.Parse(field[(colon + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var bytes = Convert.FromHexString(hex);
        for (var word = 0; word < bytes.Length; word += 4) Array.Reverse(bytes, word, 4);
        var address = new IPAddress(bytes);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var text = address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) ? "*" : address.ToString();
        return $"{text}:{port}";
    }
}
