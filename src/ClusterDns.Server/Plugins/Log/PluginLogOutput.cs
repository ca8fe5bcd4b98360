using System.Text;
using System.Threading.Channels;

namespace ClusterDns.Server.Plugins.Log;

/// <summary>
/// Where the log and errors plugins write their lines, in CoreDNS's shape (<c>[INFO] ...</c>, <c>[ERROR] plugin/errors: ...</c>)
/// so existing log searches keep matching. The process default writes to standard output from one background writer
/// that flushes whenever it has caught up, so a query never waits on the console. Tests hand in their own writer
/// through <see cref="Hosting.ServerServices.SetExtension{T}"/>.
/// </summary>
public sealed class PluginLogOutput
{
    private static readonly Lazy<PluginLogOutput> ConsoleOutput = new(CreateConsole);

    private readonly Channel<string>? _queue;
    private readonly TextWriter _writer;
    private readonly Lock _gate = new();

    /// <summary>Writes each line to <paramref name="writer"/> at once, under a lock (for tests and tools).</summary>
    public PluginLogOutput(TextWriter writer) => _writer = writer;

    private PluginLogOutput(TextWriter writer, Channel<string> queue)
    {
        _writer = writer;
        _queue = queue;
    }

    /// <summary>Standard output, buffered, written by a background task.</summary>
    public static PluginLogOutput Console => ConsoleOutput.Value;

    public static PluginLogOutput For(Hosting.ServerServices services) => services.GetExtension<PluginLogOutput>() ?? Console;

    public void WriteLine(string line)
    {
        if (_queue is not null)
        {
            _queue.Writer.TryWrite(line);
            return;
        }
        lock (_gate) _writer.WriteLine(line);
    }

    /// <summary>Writes <c>[LEVEL] plugin/NAME: message</c>, CoreDNS's plugin log line.</summary>
    public void Write(string level, string plugin, string message) => WriteLine($"[{level}] plugin/{plugin}: {message}");

    private static PluginLogOutput CreateConsole()
    {
        var writer = new StreamWriter(System.Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        var queue = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        var output = new PluginLogOutput(writer, queue);
        var drained = Task.Run(() => DrainAsync(queue.Reader, writer));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            queue.Writer.TryComplete();
            drained.Wait(TimeSpan.FromSeconds(2));
        };
        return output;
    }

    private static async Task DrainAsync(ChannelReader<string> reader, StreamWriter writer)
    {
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var line)) writer.WriteLine(line);
            writer.Flush();
        }
        writer.Flush();
    }
}
