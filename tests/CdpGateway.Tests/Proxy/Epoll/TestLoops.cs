using CdpGateway.Proxy.Epoll;

namespace CdpGateway.Tests.Proxy.Epoll;

/// <summary>The process's epoll relay for tests that drive sockets on its loops.</summary>
internal static class TestLoops
{
    public static EpollRelay Engine => EpollRelay.Shared
        ?? throw new InvalidOperationException("the epoll relay is not available: it runs on Linux x86-64 and arm64 unless CDPGW_EPOLL_RELAY=0");

    public static EpollLoop Next() => Engine.NextLoop();
}
