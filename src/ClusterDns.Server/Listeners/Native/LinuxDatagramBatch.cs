using System.Net;
using System.Runtime.InteropServices;

namespace ClusterDns.Server.Listeners.Native;

/// <summary>
/// One receive thread's native vectors for <c>recvmmsg</c>/<c>sendmmsg</c>: up to <see cref="Capacity"/> datagrams
/// come in with one system call and their answers leave with one more, which is what lifts a C# UDP loop from 0.75x to
/// 1.1x knotd per core here (shared/reference/performance.md section 9). The memory is native so the kernel can write
/// into it without pinning; a slot's pages are touched only as far as its datagrams reach.
/// </summary>
internal sealed unsafe partial class LinuxDatagramBatch : IDisposable
{
    public const int Capacity = 32;
    /// <summary>Room for any UDP datagram, as the per-datagram loop receives.</summary>
    public const int ReceiveSlotBytes = 65536;
    /// <summary>Room for the largest UDP answer the finalizer lets out (EDNS sizes stop at 4096); larger ones go alone.</summary>
    public const int SendSlotBytes = 4096;
    private const int AddressBytes = 128; // sockaddr_storage

    private const int MsgWaitForOne = 0x10000;
    private const int EIntr = 4, EBadF = 9, EFault = 14, EInval = 22, ENotSock = 88;

    private readonly MMsgHdr* _receive;
    private readonly MMsgHdr* _send;
    private readonly IoVec* _vectors;
    private readonly byte* _memory;
    private int _answers;

    public LinuxDatagramBatch()
    {
        var bytes = (nuint)Capacity * (ReceiveSlotBytes + SendSlotBytes + AddressBytes);
        _memory = (byte*)NativeMemory.AlignedAlloc(bytes, 4096);
        _receive = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Capacity * sizeof(MMsgHdr)));
        _send = (MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Capacity * sizeof(MMsgHdr)));
        _vectors = (IoVec*)NativeMemory.AllocZeroed((nuint)(2 * Capacity * sizeof(IoVec)));
        for (var i = 0; i < Capacity; i++)
        {
            _vectors[i] = new IoVec { Base = ReceiveSlot(i), Length = ReceiveSlotBytes };
            _receive[i].Header.Iov = &_vectors[i];
            _receive[i].Header.IovLength = 1;
            _receive[i].Header.Name = AddressSlot(i);
            _send[i].Header.Iov = &_vectors[Capacity + i];
            _send[i].Header.IovLength = 1;
            _vectors[Capacity + i].Base = SendSlot(i);
        }
    }

    /// <summary>Whether this process can use the batch: 64-bit Linux with glibc's recvmmsg and sendmmsg.</summary>
    public static bool IsSupported { get; } = Probe();

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess) return false;
        if (!NativeLibrary.TryLoad(LibC, out var library)) return false;
        return NativeLibrary.TryGetExport(library, "recvmmsg", out _) && NativeLibrary.TryGetExport(library, "sendmmsg", out _);
    }

    private byte* ReceiveSlot(int index) => _memory + (nint)index * ReceiveSlotBytes;
    private byte* SendSlot(int index) => _memory + (nint)Capacity * ReceiveSlotBytes + (nint)index * SendSlotBytes;
    private byte* AddressSlot(int index) => _memory + (nint)Capacity * (ReceiveSlotBytes + SendSlotBytes) + (nint)index * AddressBytes;

    /// <summary>
    /// Blocks until at least one datagram arrives, then takes whatever else is queued, up to <see cref="Capacity"/>.
    /// Returns how many came, 0 after a passing error (interrupted, an ICMP error left over from an earlier answer, a
    /// shutdown: the caller checks whether it should stop), or -1 when the socket is unusable.
    /// </summary>
    public int Receive(int socket)
    {
        for (var i = 0; i < Capacity; i++) _receive[i].Header.NameLength = AddressBytes;
        var count = RecvMMsg(socket, _receive, Capacity, MsgWaitForOne, 0);
        if (count >= 0) return count;
        return Marshal.GetLastPInvokeError() is EBadF or EFault or EInval or ENotSock ? -1 : 0;
    }

    public ReadOnlySpan<byte> Datagram(int index) => new(ReceiveSlot(index), (int)_receive[index].Length);

    /// <summary>Copies the sender of datagram <paramref name="index"/> into <paramref name="address"/> (same sockaddr layout).</summary>
    public void CopySender(int index, SocketAddress address)
    {
        var length = Math.Min((int)_receive[index].Header.NameLength, address.Buffer.Length);
        new ReadOnlySpan<byte>(AddressSlot(index), length).CopyTo(address.Buffer.Span);
        address.Size = length;
    }

    /// <summary>Queues <paramref name="answer"/> for the sender of datagram <paramref name="index"/>; false when it does not fit a slot.</summary>
    public bool TryAddAnswer(int socket, int index, ReadOnlySpan<byte> answer)
    {
        if (answer.Length > SendSlotBytes) return false;
        if (_answers == Capacity) Send(socket);
        var slot = _answers++;
        answer.CopyTo(new Span<byte>(SendSlot(slot), SendSlotBytes));
        _vectors[Capacity + slot].Length = (nuint)answer.Length;
        _send[slot].Header.Name = AddressSlot(index);
        _send[slot].Header.NameLength = _receive[index].Header.NameLength;
        return true;
    }

    /// <summary>Sends the queued answers; one the kernel refuses (client gone, buffer full) is skipped, as UDP allows.</summary>
    public void Send(int socket)
    {
        var sent = 0;
        while (sent < _answers)
        {
            var count = SendMMsg(socket, _send + sent, (uint)(_answers - sent), 0);
            if (count > 0) sent += count;
            else if (count == 0 || Marshal.GetLastPInvokeError() != EIntr) sent++;
        }
        _answers = 0;
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_memory);
        NativeMemory.Free(_receive);
        NativeMemory.Free(_send);
        NativeMemory.Free(_vectors);
    }

    private const string LibC = "libc.so.6";

    [LibraryImport(LibC, EntryPoint = "recvmmsg", SetLastError = true)]
    private static partial int RecvMMsg(int socket, MMsgHdr* messages, uint count, int flags, nint timeout);

    [LibraryImport(LibC, EntryPoint = "sendmmsg", SetLastError = true)]
    private static partial int SendMMsg(int socket, MMsgHdr* messages, uint count, int flags);

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    // struct msghdr and struct mmsghdr of 64-bit Linux (LP64: pointers and size_t are 8 bytes).
    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }
}
