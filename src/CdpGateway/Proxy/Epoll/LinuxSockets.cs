using System.Runtime.InteropServices;

namespace CdpGateway.Proxy.Epoll;

/// <summary>
/// The few Linux calls the epoll relay makes itself. The constants are the values of Linux's generic ABI, which x86-64
/// and arm64 share (LinuxSocketsTests holds them against the kernel headers); <c>struct epoll_event</c> is the one layout
/// that differs between the two (see <see cref="Layout"/>).
/// </summary>
internal static unsafe class LinuxSockets
{
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLEXCLUSIVE = 1u << 28;

    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;

    public const int EAGAIN = 11;
    public const int EINTR = 4;

    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int O_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;

    public const int SOL_SOCKET = 1;
    public const int SO_ERROR = 4;
    public const int IPPROTO_TCP = 6;
    public const int TCP_NODELAY = 1;
    public const int SHUT_RDWR = 2;

    /// <summary>The ioctl for the bytes a TCP socket has not had acknowledged yet (TIOCOUTQ).</summary>
    public const uint SIOCOUTQ = 0x5411;

    public const int MSG_PEEK = 0x2;
    public const int MSG_DONTWAIT = 0x40;

    /// <summary>No SIGPIPE for a peer that is gone: the call fails with EPIPE instead.</summary>
    public const int MSG_NOSIGNAL = 0x4000;

    /// <summary>What the loop reads of an event, whichever layout the architecture has.</summary>
    public interface IEpollEvent
    {
        uint Events { get; }
        ulong Data { get; }
    }

    /// <summary>x86-64's <c>struct epoll_event</c>: the kernel declares it packed (12 bytes, the data at offset 4).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    public struct PackedEpollEvent : IEpollEvent
    {
        public uint Events;
        public ulong Data;

        readonly uint IEpollEvent.Events => Events;
        readonly ulong IEpollEvent.Data => Data;
    }

    /// <summary>arm64's (every other 64-bit architecture's) <c>struct epoll_event</c>: natural alignment (16 bytes, the data at offset 8).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct AlignedEpollEvent : IEpollEvent
    {
        public uint Events;
        public ulong Data;

        readonly uint IEpollEvent.Events => Events;
        readonly ulong IEpollEvent.Data => Data;
    }

    public enum EpollEventLayout
    {
        Packed,
        Aligned,
    }

    /// <summary>
    /// The layout of <c>struct epoll_event</c> on <paramref name="architecture"/>, or null where the relay does not know it
    /// (and so does not run: it would rather fall back to the runtime's sockets than guess).
    /// </summary>
    public static EpollEventLayout? LayoutFor(Architecture architecture) => architecture switch
    {
        Architecture.X64 => EpollEventLayout.Packed,
        Architecture.Arm64 => EpollEventLayout.Aligned,
        _ => null,
    };

    /// <summary>This process's layout, decided once at start-up; null off Linux or on an architecture the relay does not know.</summary>
    public static readonly EpollEventLayout? Layout = OperatingSystem.IsLinux() ? LayoutFor(RuntimeInformation.ProcessArchitecture) : null;

    public static bool Supported => Layout is not null;

    [DllImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static extern int EpollCreate1(int flags);

    [DllImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static extern int EpollCtl(int epfd, int op, int fd, void* ev);

    [DllImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static extern int EpollWait(int epfd, void* events, int maxEvents, int timeout);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int CloseNative(int fd);

    [DllImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static extern nint Recv(int fd, byte* buffer, nint length, int flags);

    [DllImport("libc", EntryPoint = "send", SetLastError = true)]
    public static extern nint Send(int fd, byte* buffer, nint length, int flags);

    [DllImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static extern int EventFd(uint initval, int flags);

    [DllImport("libc", EntryPoint = "read", SetLastError = true)]
    private static extern nint Read(int fd, void* buffer, nint count);

    [DllImport("libc", EntryPoint = "write", SetLastError = true)]
    private static extern nint Write(int fd, void* buffer, nint count);

    [DllImport("libc", EntryPoint = "connect", SetLastError = true)]
    private static extern int ConnectSocket(int fd, byte* address, int length);

    [DllImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    private static extern int GetSocketOption(int fd, int level, int name, int* value, int* length);

    [DllImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static extern int SetSocketOption(int fd, int level, int name, int* value, int length);

    [DllImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    private static extern int ShutdownSocket(int fd, int how);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int CloseDescriptor(int fd);

    [DllImport("libc", EntryPoint = "getpeername", SetLastError = true)]
    private static extern int GetPeerName(int fd, byte* address, int* length);

    [DllImport("libc", EntryPoint = "accept4", SetLastError = true)]
    private static extern int Accept4(int fd, void* address, void* length, int flags);

    [DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static extern int Fcntl(int fd, int cmd, int arg);

    /// <summary>
    /// Lets go of a socket the orderly way: what is still queued goes out, then the FIN. The runtime's release of a bare
    /// <see cref="System.Net.Sockets.SafeSocketHandle"/> closes with SO_LINGER 0 instead, a reset that throws the queue away.
    /// </summary>
    public static void CloseOrderly(System.Net.Sockets.SafeSocketHandle handle, int fd)
    {
        // Marked closed first, so that nothing of the runtime's closes the number again once the kernel reuses it.
        handle.SetHandleAsInvalid();
        CloseDescriptor(fd);
    }

    public static int CreateEpoll() => Check(EpollCreate1(EPOLL_CLOEXEC), "epoll_create1");

    public static int CreateEventFd() => Check(EventFd(0, EFD_CLOEXEC), "eventfd");

    /// <summary>Registers, changes or removes <paramref name="fd"/>; 0 on success, else errno.</summary>
    public static int Control(int epfd, int op, int fd, uint events, ulong data)
    {
        int result;
        // Not per event: registrations and interest changes. The layout is read-only after start-up (the JIT folds it).
        if (Layout == EpollEventLayout.Packed)
        {
            var ev = new PackedEpollEvent { Events = events, Data = data };
            result = EpollCtl(epfd, op, fd, &ev);
        }
        else
        {
            var ev = new AlignedEpollEvent { Events = events, Data = data };
            result = EpollCtl(epfd, op, fd, &ev);
        }
        return result == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Closes a descriptor the relay made itself (an epoll set, an eventfd).</summary>
    public static void Close(int fd) => CloseNative(fd);

    public static void Signal(int eventFd)
    {
        ulong one = 1;
        Write(eventFd, &one, sizeof(ulong));
    }

    public static void Drain(int eventFd)
    {
        ulong count;
        Read(eventFd, &count, sizeof(ulong));
    }

    public const int EINPROGRESS = 115;

    /// <summary>Starts a connect on a non-blocking socket: 0 when it completed, EINPROGRESS while it goes on, else errno.</summary>
    public static int StartConnect(int fd, System.Net.SocketAddress address)
    {
        Span<byte> bytes = stackalloc byte[address.Size];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = address[i];
        }
        fixed (byte* start = bytes)
        {
            return ConnectSocket(fd, start, bytes.Length) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>The socket's pending error (SO_ERROR): how a non-blocking connect ended, 0 for success.</summary>
    public static int PendingError(int fd)
    {
        int value = 0, length = sizeof(int);
        return GetSocketOption(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 ? value : Marshal.GetLastPInvokeError();
    }

    /// <summary><see cref="Receive"/>: nothing there yet (EAGAIN, EINTR).</summary>
    public const int WouldBlock = -1;

    /// <summary><see cref="Receive"/>: the socket failed; the error is the last P/Invoke error.</summary>
    public const int Failed = -2;

    /// <summary>Bytes received (0 at the end of the stream), <see cref="WouldBlock"/> or <see cref="Failed"/>.</summary>
    public static int Receive(int fd, Span<byte> buffer, int flags)
    {
        nint received;
        fixed (byte* start = buffer)
        {
            received = Recv(fd, start, buffer.Length, flags);
        }
        if (received >= 0)
        {
            return (int)received;
        }
        return Marshal.GetLastPInvokeError() is EAGAIN or EINTR ? WouldBlock : Failed;
    }

    /// <summary>No Nagle delay (TCP_NODELAY): each message goes out as it is written.</summary>
    public static void SetNoDelay(int fd)
    {
        int one = 1;
        SetSocketOption(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(int));
    }

    [DllImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static extern int Ioctl(int fd, nuint request, int* value);

    /// <summary>
    /// What <c>SIOCOUTQ</c> reports: bytes written to a TCP socket that its peer has not acknowledged yet; null when the
    /// call fails. Zero means the peer's kernel holds everything written, whether or not its reader has taken it.
    /// </summary>
    public static int? UnsentBytes(int fd)
    {
        int value;
        return Ioctl(fd, SIOCOUTQ, &value) == 0 ? value : null;
    }

    /// <summary>The address and port of a connected TCP socket's peer; null when the kernel cannot say (it left already).</summary>
    public static System.Net.IPEndPoint? PeerAddress(int fd)
    {
        const int AF_INET = 2, AF_INET6 = 10;
        var address = stackalloc byte[128];
        int length = 128;
        if (GetPeerName(fd, address, &length) != 0 || length < 8)
        {
            return null;
        }
        var family = *(ushort*)address;
        var port = (address[2] << 8) | address[3];
        return family switch
        {
            AF_INET => new System.Net.IPEndPoint(new System.Net.IPAddress(new ReadOnlySpan<byte>(address + 4, 4)), port),
            AF_INET6 when length >= 28 => new System.Net.IPEndPoint(
                new System.Net.IPAddress(new ReadOnlySpan<byte>(address + 8, 16), *(uint*)(address + 24)), port),
            _ => null,
        };
    }

    /// <summary>Both directions: pending and future reads see the end of the stream, writes fail.</summary>
    public static void Shutdown(int fd) => ShutdownSocket(fd, SHUT_RDWR);

    public const int EMFILE = 24;
    public const int ENFILE = 23;
    public const int ENOBUFS = 105;
    public const int ENOMEM = 12;

    /// <summary>A connection from a listening socket, non-blocking and close-on-exec: its descriptor, or -errno.</summary>
    public static int Accept(int listenerFd)
    {
        int fd = Accept4(listenerFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
        return fd >= 0 ? fd : -Marshal.GetLastPInvokeError();
    }

    public static void MakeNonBlocking(int fd)
    {
        int flags = Fcntl(fd, F_GETFL, 0);
        if (flags >= 0 && (flags & O_NONBLOCK) == 0)
        {
            Fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        }
    }

    private static int Check(int result, string call) =>
        result >= 0 ? result : throw new InvalidOperationException($"{call} failed: errno {Marshal.GetLastPInvokeError()}");
}
