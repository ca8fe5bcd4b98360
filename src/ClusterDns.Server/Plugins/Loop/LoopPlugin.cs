using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using ClusterDns.Server.Corefile;
using ClusterDns.Server.Pipeline;
using ClusterDns.Server.Wire;
using Microsoft.Extensions.Logging;

namespace ClusterDns.Server.Plugins.Loop;

/// <summary>
/// How loop ends the process when it finds a loop. The default exits with the code, as CoreDNS's log.Fatalf does;
/// tests register their own through <c>ServerServices.SetExtension(new LoopExit(...))</c>.
/// </summary>
public sealed class LoopExit(Action<int> exit)
{
    public static readonly LoopExit Process = new(Environment.Exit);
    public Action<int> Exit { get; } = exit;
}

/// <summary>
/// loop: at start, sends <c>&lt;random&gt;.&lt;random&gt;.&lt;zone&gt; HINFO</c> to the server's own address; seeing one probe
/// come back more than twice means forwarding leads back to us, and the process stops with an error that
/// names the loop, as CoreDNS does. Once a probe got an answer (no loop), it steps aside.
/// </summary>
public sealed partial class LoopPlugin : DnsPlugin
{
    public const string PluginName = "loop";
    private static readonly TimeSpan ProbeWindow = TimeSpan.FromSeconds(30);

    public static readonly PluginDefinition Definition = new(PluginName, Setup);

    private readonly byte[] _probeName;
    private readonly ILogger _logger;
    private readonly LoopExit _exit;
    private int _seen;
    private volatile bool _disabled;
    private volatile bool _detected;

    public LoopPlugin(string zone, string probeName, IPEndPoint target, LoopExit exit, ILogger logger)
    {
        Zone = zone;
        ProbeName = probeName;
        Target = target;
        _probeName = DnsName.Encode(probeName);
        _exit = exit;
        _logger = logger;
    }

    public override string Name => PluginName;
    public string Zone { get; }
    /// <summary>The probe's name, <c>&lt;rand&gt;.&lt;rand&gt;.&lt;zone&gt;</c>.</summary>
    public string ProbeName { get; }
    /// <summary>Where the probe is sent: the block's own address.</summary>
    public IPEndPoint Target { get; }
    public bool Detected => _detected;
    /// <summary>False once a probe was answered (no loop) and loop stepped aside.</summary>
    public bool IsActive => !_disabled;
    public int Seen => Volatile.Read(ref _seen);

    private static DnsPlugin Setup(PluginSetupContext context, Directive directive)
    {
        directive.ExpectNoArguments();
        directive.ExpectNoBlock();
        var zone = context.Zones[0];
        var random = context.Services.Random;
        string probe;
        lock (random) probe = $"{random.NextInt64(1, long.MaxValue)}.{random.NextInt64(1, long.MaxValue)}.{(zone == "." ? "" : zone)}";
        var port = PortOf(context.Servers[0]);
        var address = context.Options.BindAddresses.Count > 0 ? context.Options.BindAddresses[0] : IPAddress.Loopback;
        if (address.Equals(IPAddress.Any)) address = IPAddress.Loopback;
        if (address.Equals(IPAddress.IPv6Any)) address = IPAddress.IPv6Loopback;
        var exit = context.Services.GetExtension<LoopExit>() ?? LoopExit.Process;
        var plugin = new LoopPlugin(zone, probe, new IPEndPoint(address, port), exit, context.Services.LoggerFactory.CreateLogger("ClusterDns.Plugins.Loop"));
        var stopping = new CancellationTokenSource();
        var time = context.Services.TimeProvider;
        // Probe once our own listener is open: before that every probe is refused (and each refusal is an exception
        // whose stack trace .NET resolves to source lines, loading a PDB reader that stays resident).
        context.OnListening(() =>
        {
            if (port != 0) _ = plugin.ProbeAsync(time, stopping.Token);
            else plugin._disabled = true;
        });
        context.OnShutdown(() =>
        {
            stopping.Cancel();
            return Task.CompletedTask;
        });
        return plugin;
    }

    private static int PortOf(string server)
    {
        var colon = server.LastIndexOf(':');
        return colon >= 0 && int.TryParse(server.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) ? port : 53;
    }

    public override ValueTask<int> ServeDnsAsync(DnsRequestContext request, IDnsResponseWriter writer)
    {
        if (_disabled || request.QType != DnsType.HINFO || !request.QName.SequenceEqual(_probeName)) return NextOrFailure(request, writer);
        if (Interlocked.Increment(ref _seen) > 2)
        {
            if (!_detected)
            {
                _detected = true;
                var from = request.RemoteEndPoint;
                LogLoopDetected(_logger, from.ToString(), Target.Port, Zone, ProbeName);
                _exit.Exit(1);
            }
            // The process is going down; do not feed the loop meanwhile.
            return new ValueTask<int>(DnsRcode.ServFail);
        }
        return NextOrFailure(request, writer);
    }

    /// <summary>Sends the probe until it gets any answer, for at most 30 s; an answer means no loop, and loop steps aside.</summary>
    public async Task ProbeAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var query = new byte[12 + _probeName.Length + 4];
        BinaryPrimitives.WriteUInt16BigEndian(query, (ushort)Random.Shared.Next(1, 65536));
        query[2] = 0x01; // RD
        query[5] = 1;
        _probeName.CopyTo(query, 12);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(12 + _probeName.Length), DnsType.HINFO);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(14 + _probeName.Length), DnsClass.IN);
        var start = time.GetTimestamp();
        var buffer = new byte[4096];
        try
        {
            while (time.GetElapsedTime(start) < ProbeWindow && !_detected)
            {
                using var socket = new Socket(Target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                try
                {
                    await socket.ConnectAsync(Target, cancellationToken).ConfigureAwait(false);
                    await socket.SendAsync(query, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(TimeSpan.FromSeconds(2));
                    var received = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    if (received >= 12 && buffer[0] == query[0] && buffer[1] == query[1])
                    {
                        // An answer came back, so the probe did not loop; CoreDNS stops looking 2 s later.
                        await Task.Delay(TimeSpan.FromSeconds(2), time, cancellationToken).ConfigureAwait(false);
                        _disabled = true;
                        return;
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // No answer within 2 s: a loop keeps the probe circling, or the upstream is slow or dead.
                }
                catch (SocketException)
                {
                }
                // As CoreDNS: only sightings of one probe count. A dead upstream lets every probe through once and
                // times it out; counting across probes would call that a loop on the third try.
                Interlocked.Exchange(ref _seen, 0);
                await Task.Delay(TimeSpan.FromSeconds(1), time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Critical,
        Message = "Loop ({From} -> :{Port}) detected for zone \"{Zone}\", see https://coredns.io/plugins/loop#troubleshooting. Query: \"HINFO {Probe}\"")]
    private static partial void LogLoopDetected(ILogger logger, string from, int port, string zone, string probe);
}
