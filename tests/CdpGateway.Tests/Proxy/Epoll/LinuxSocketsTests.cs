using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CdpGateway.Proxy.Epoll;
using static CdpGateway.Proxy.Epoll.LinuxSockets;

namespace CdpGateway.Tests.Proxy.Epoll;

/// <summary>
/// The epoll relay's view of the kernel ABI: <c>struct epoll_event</c> per architecture and the constants it passes to
/// the kernel, held against the values in Linux's headers (uapi/linux/eventpoll.h, asm-generic/fcntl.h,
/// asm-generic/socket.h, asm-generic/errno*.h, netinet/tcp.h, asm-generic/ioctls.h), which x86-64 and arm64 share.
/// </summary>
public sealed unsafe class LinuxSocketsTests
{
    /// <summary>Architecture, then the kernel's sizeof(struct epoll_event), offsetof(events) and offsetof(data).</summary>
    public static TheoryData<Architecture, int, int, int> KernelLayouts => new()
    {
        { Architecture.X64, 12, 0, 4 },
        { Architecture.Arm64, 16, 0, 8 },
    };

    [Theory]
    [MemberData(nameof(KernelLayouts))]
    public void TheEventStructForAnArchitectureHasTheKernelsSizeAndOffsets(Architecture architecture, int size, int eventsOffset, int dataOffset)
    {
        var layout = LayoutFor(architecture);
        Assert.NotNull(layout);
        var (managedSize, managedEvents, managedData, marshalType) = layout == EpollEventLayout.Packed
            ? Measure<PackedEpollEvent>((ref PackedEpollEvent e) => ref e.Events, (ref PackedEpollEvent e) => ref e.Data)
            : Measure<AlignedEpollEvent>((ref AlignedEpollEvent e) => ref e.Events, (ref AlignedEpollEvent e) => ref e.Data);
        // The loop reads events through a pointer: the managed layout is the one that counts; the marshaller's must agree.
        Assert.Equal(size, managedSize);
        Assert.Equal(eventsOffset, managedEvents);
        Assert.Equal(dataOffset, managedData);
        Assert.Equal(size, Marshal.SizeOf(marshalType));
        Assert.Equal(eventsOffset, (int)Marshal.OffsetOf(marshalType, "Events"));
        Assert.Equal(dataOffset, (int)Marshal.OffsetOf(marshalType, "Data"));
    }

    [Theory]
    [InlineData(Architecture.X86)]
    [InlineData(Architecture.Arm)]
    [InlineData(Architecture.Wasm)]
    [InlineData(Architecture.S390x)]
    [InlineData(Architecture.LoongArch64)]
    [InlineData(Architecture.Armv6)]
    [InlineData(Architecture.Ppc64le)]
    [InlineData(Architecture.RiscV64)]
    public void AnArchitectureWhoseLayoutIsNotKnownGetsNone(Architecture architecture) =>
        Assert.Null(LayoutFor(architecture));

    [Fact]
    public void ThisProcessUsesTheLayoutOfItsOwnArchitecture() =>
        Assert.Equal(OperatingSystem.IsLinux() ? LayoutFor(RuntimeInformation.ProcessArchitecture) : null, Layout);

    /// <summary>The kernel itself fills the events: data and flags come back whole only if the layout is right.</summary>
    [KnownLayoutFact]
    public void TheKernelReturnsRegisteredDataAndFlagsThroughThisProcesssLayout()
    {
        if (Layout == EpollEventLayout.Packed)
        {
            RoundTrip<PackedEpollEvent>();
        }
        else
        {
            RoundTrip<AlignedEpollEvent>();
        }
    }

    private static void RoundTrip<TEvent>() where TEvent : unmanaged, IEpollEvent
    {
        const ulong Token = 0x1122_3344_5566_7788;
        int epoll = CreateEpoll();
        int eventFd = CreateEventFd();
        try
        {
            Assert.Equal(0, Control(epoll, EPOLL_CTL_ADD, eventFd, EPOLLIN | EPOLLOUT, Token));
            Signal(eventFd);
            var events = stackalloc TEvent[4];
            int count = EpollWait(epoll, events, 4, 5000);
            Assert.Equal(1, count);
            Assert.Equal(Token, events[0].Data);
            // A signalled eventfd is readable and (far from its limit) writable.
            Assert.Equal(EPOLLIN | EPOLLOUT, events[0].Events);
        }
        finally
        {
            Close(eventFd);
            Close(epoll);
        }
    }

    public static TheoryData<string, long, long> Constants => new()
    {
        { nameof(EPOLLIN), EPOLLIN, 0x001 },
        { nameof(EPOLLOUT), EPOLLOUT, 0x004 },
        { nameof(EPOLLERR), EPOLLERR, 0x008 },
        { nameof(EPOLLHUP), EPOLLHUP, 0x010 },
        { nameof(EPOLLRDHUP), EPOLLRDHUP, 0x2000 },
        { nameof(EPOLLEXCLUSIVE), EPOLLEXCLUSIVE, 0x1000_0000 },
        { nameof(EPOLL_CTL_ADD), EPOLL_CTL_ADD, 1 },
        { nameof(EPOLL_CTL_DEL), EPOLL_CTL_DEL, 2 },
        { nameof(EPOLL_CTL_MOD), EPOLL_CTL_MOD, 3 },
        { nameof(EPOLL_CLOEXEC), EPOLL_CLOEXEC, 0x80000 },
        { nameof(EFD_CLOEXEC), EFD_CLOEXEC, 0x80000 },
        { nameof(SOCK_CLOEXEC), SOCK_CLOEXEC, 0x80000 },
        { nameof(SOCK_NONBLOCK), SOCK_NONBLOCK, 0x800 },
        { nameof(O_NONBLOCK), O_NONBLOCK, 0x800 },
        { nameof(F_GETFL), F_GETFL, 3 },
        { nameof(F_SETFL), F_SETFL, 4 },
        { nameof(SOL_SOCKET), SOL_SOCKET, 1 },
        { nameof(SO_ERROR), SO_ERROR, 4 },
        { nameof(IPPROTO_TCP), IPPROTO_TCP, 6 },
        { nameof(TCP_NODELAY), TCP_NODELAY, 1 },
        { nameof(SHUT_RDWR), SHUT_RDWR, 2 },
        { nameof(SIOCOUTQ), SIOCOUTQ, 0x5411 },
        { nameof(MSG_PEEK), MSG_PEEK, 0x2 },
        { nameof(MSG_DONTWAIT), MSG_DONTWAIT, 0x40 },
        { nameof(MSG_NOSIGNAL), MSG_NOSIGNAL, 0x4000 },
        { nameof(EINTR), EINTR, 4 },
        { nameof(EAGAIN), EAGAIN, 11 },
        { nameof(ENOMEM), ENOMEM, 12 },
        { nameof(ENFILE), ENFILE, 23 },
        { nameof(EMFILE), EMFILE, 24 },
        { nameof(ENOBUFS), ENOBUFS, 105 },
        { nameof(EINPROGRESS), EINPROGRESS, 115 },
    };

    [Theory]
    [MemberData(nameof(Constants))]
    public void AConstantHasItsLinuxValue(string name, long value, long linux) =>
        Assert.True(value == linux, $"{name} is 0x{value:x}, Linux's is 0x{linux:x}");

    private delegate ref T FieldOf<TStruct, T>(ref TStruct value);

    private static (int Size, int Events, int Data, Type Type) Measure<TEvent>(FieldOf<TEvent, uint> events, FieldOf<TEvent, ulong> data)
        where TEvent : unmanaged
    {
        var value = default(TEvent);
        ref byte start = ref Unsafe.As<TEvent, byte>(ref value);
        int eventsOffset = (int)Unsafe.ByteOffset(ref start, ref Unsafe.As<uint, byte>(ref events(ref value)));
        int dataOffset = (int)Unsafe.ByteOffset(ref start, ref Unsafe.As<ulong, byte>(ref data(ref value)));
        return (sizeof(TEvent), eventsOffset, dataOffset, typeof(TEvent));
    }
}

/// <summary>A fact that needs this process's epoll_event layout: skipped where the relay knows none.</summary>
public sealed class KnownLayoutFactAttribute : FactAttribute
{
    public KnownLayoutFactAttribute()
    {
        if (LinuxSockets.Layout is null)
        {
            Skip = "no known epoll_event layout on this platform (the relay is off here)";
        }
    }
}
