using System.Net;
using System.Net.Sockets;

namespace ClusterDns.LoadCheck;

/// <summary>
/// Opens many TCP connections to the server and holds them: most idle, some with a half-sent frame (a length
/// prefix and part of the message, never the rest). Reports each second how many the server has closed.
/// </summary>
internal sealed class TcpHolder(IPEndPoint server, int connections, int halfFrames, TimeSpan hold)
{
    public void Run(TextWriter output)
    {
        var sockets = new List<Socket>(connections);
        int failed = 0;
        var started = DateTime.UtcNow;
        for (int i = 0; i < connections; i++)
        {
            var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { LingerState = new LingerOption(true, 0) };
            try
            {
                socket.Connect(server);
                if (i < halfFrames) socket.Send([0x00, 0x40, 0x12, 0x34, 0x01, 0x00, 0x00, 0x01]); // says 64 bytes, sends 6
                sockets.Add(socket);
            }
            catch (SocketException)
            {
                failed++;
                socket.Dispose();
            }
        }
        output.WriteLine($"tcp-hold opened={sockets.Count} failed={failed} half_frames={Math.Min(halfFrames, sockets.Count)} in {(DateTime.UtcNow - started).TotalSeconds:F1}s");
        output.Flush();
        var end = DateTime.UtcNow + hold;
        var probe = new byte[1];
        int closed = 0;
        var open = new HashSet<Socket>(sockets);
        while (DateTime.UtcNow < end)
        {
            Thread.Sleep(1000);
            foreach (var socket in sockets)
            {
                if (!open.Contains(socket) || !socket.Poll(0, SelectMode.SelectRead)) continue;
                bool ended;
                try
                {
                    ended = socket.Receive(probe, SocketFlags.Peek) == 0;
                }
                catch (SocketException)
                {
                    ended = true;
                }
                if (!ended) continue;
                open.Remove(socket);
                closed++;
            }
            output.WriteLine($"tcp-hold t={(DateTime.UtcNow - started).TotalSeconds:F0}s open={open.Count} closed_by_server={closed}");
            output.Flush();
        }
        foreach (var socket in sockets) socket.Dispose();
        output.WriteLine($"tcp-hold summary opened={sockets.Count} failed={failed} closed_by_server={closed} still_open={open.Count}");
    }
}
