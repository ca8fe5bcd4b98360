using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Makaretu.Dns;

namespace ClusterDns.Tests.Infrastructure;

/// <summary>A plain DNS client over real sockets: builds queries with Makaretu.Dns, reads answers back into its model.</summary>
public static class DnsTestClient
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static byte[] BuildQuery(string name, DnsType type, ushort? udpSize = null, ushort id = 0x1234, bool dnssecOk = false)
    {
        var message = new Message { Id = id, RD = true };
        message.Questions.Add(new Question { Name = name, Type = type, Class = DnsClass.IN });
        if (udpSize is { } size) message.AdditionalRecords.Add(new OPTRecord { RequestorPayloadSize = size, DO = dnssecOk });
        return message.ToByteArray();
    }

    public static Message Parse(byte[] bytes)
    {
        var message = new Message();
        message.Read(bytes, 0, bytes.Length);
        return message;
    }

    /// <param name="from">The local address to send from (a loopback address such as 127.0.0.2 that a test Pod owns).</param>
    public static async Task<Message> QueryAsync(IPEndPoint server, string name, DnsType type = DnsType.A, bool tcp = false, ushort? udpSize = null,
        IPAddress? from = null)
    {
        var query = BuildQuery(name, type, udpSize, (ushort)Random.Shared.Next(1, 65535));
        var answer = tcp ? await ExchangeTcpAsync(server, query, from: from) : await ExchangeUdpAsync(server, query, from: from);
        if (answer is null) throw new TimeoutException($"no answer from {server} for {name} {type}");
        return Parse(answer);
    }

    /// <summary>Sends raw bytes over UDP and returns the reply, or null if none came within the timeout.</summary>
    public static async Task<byte[]?> ExchangeUdpAsync(IPEndPoint server, byte[] query, TimeSpan? timeout = null, IPAddress? from = null)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (from is not null) socket.Bind(new IPEndPoint(from, 0));
        socket.Connect(server);
        await socket.SendAsync(query, SocketFlags.None);
        var buffer = new byte[65535];
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            var count = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return buffer[..count];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Sends one framed query over a new TCP connection and returns the reply, or null if none came.</summary>
    public static async Task<byte[]?> ExchangeTcpAsync(IPEndPoint server, byte[] query, TimeSpan? timeout = null, IPAddress? from = null)
    {
        using var client = new TcpClient(server.AddressFamily);
        if (from is not null) client.Client.Bind(new IPEndPoint(from, 0));
        await client.ConnectAsync(server);
        var stream = client.GetStream();
        await WriteFrameAsync(stream, query);
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        return await ReadFrameAsync(stream, cts.Token);
    }

    public static async Task WriteFrameAsync(Stream stream, byte[] message)
    {
        var frame = new byte[message.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)message.Length);
        message.CopyTo(frame, 2);
        await stream.WriteAsync(frame);
    }

    public static async Task<byte[]?> ReadFrameAsync(Stream stream, CancellationToken cancellationToken)
    {
        try
        {
            var prefix = new byte[2];
            await stream.ReadExactlyAsync(prefix, cancellationToken);
            var body = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
            await stream.ReadExactlyAsync(body, cancellationToken);
            return body;
        }
        catch (Exception exception) when (exception is OperationCanceledException or EndOfStreamException or IOException)
        {
            return null;
        }
    }
}
