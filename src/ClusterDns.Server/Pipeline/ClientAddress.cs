using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ClusterDns.Server.Pipeline;

/// <summary>
/// A client IP as one 128-bit key (IPv6 as is, IPv4 as <c>::ffff:a.b.c.d</c>), read straight from the socket address
/// so that looking a client up (autopath's Pod by IP) converts and allocates nothing.
/// </summary>
public static class ClientAddress
{
    private static readonly UInt128 MappedPrefix = (UInt128)0xFFFF << 32;

    /// <summary>The key of a 4- or 16-byte address.</summary>
    public static UInt128 Key(ReadOnlySpan<byte> address) => address.Length == 4
        ? MappedPrefix | BinaryPrimitives.ReadUInt32BigEndian(address)
        : BinaryPrimitives.ReadUInt128BigEndian(address);

    public static UInt128 Key(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return Key(bytes[..written]);
    }

    /// <summary>The key of the client behind <paramref name="address"/> (sockaddr_in / sockaddr_in6 layout).</summary>
    public static bool TryGetKey(SocketAddress? address, out UInt128 key)
    {
        key = default;
        if (address is null) return false;
        var buffer = address.Buffer.Span;
        switch (address.Family)
        {
            case AddressFamily.InterNetwork when buffer.Length >= 8:
                key = Key(buffer.Slice(4, 4));
                return true;
            case AddressFamily.InterNetworkV6 when buffer.Length >= 24:
                key = Key(buffer.Slice(8, 16));
                return true;
            default:
                return false;
        }
    }
}
