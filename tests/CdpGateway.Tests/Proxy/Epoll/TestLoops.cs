using CdpGateway.Proxy.Epoll;
using Microsoft.Extensions.Logging.Abstractions;

namespace CdpGateway.Tests.Proxy.Epoll;

/// <summary>An epoll relay of the tests' own (a gateway's is its service) for tests that drive sockets on its loops.</summary>
internal static class TestLoops
{
    private static readonly Lazy<EpollRelay> SharedByTests = new(() => EpollRelay.OffReasonHere is { } off
        ? throw new InvalidOperationException("the epoll relay is not available: " + off)
        : EpollRelay.Create(null, NullLogger<EpollRelay>.Instance));

    public static EpollRelay Engine => SharedByTests.Value;

    public static EpollLoop Next() => Engine.NextLoop();
}
