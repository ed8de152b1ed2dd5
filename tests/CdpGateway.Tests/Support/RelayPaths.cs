using CdpGateway.Proxy.Epoll;

namespace CdpGateway.Tests.Support;

/// <summary>
/// The CDP port relays on the gateway's epoll loops or, with <c>CDPGW_EPOLL_RELAY=0</c>, on the runtime's sockets.
/// <c>./test</c> runs the whole suite on the first and then the classes marked
/// <c>[Trait(RelayPaths.Trait, RelayPaths.Both)]</c> (those whose outcome goes through the relay, the upgrade or
/// discovery) again on the second, so neither path can break unseen.
/// </summary>
public static class RelayPaths
{
    public const string Trait = "relay";
    public const string Both = "both";

    /// <summary>Why a test that drives the epoll loops themselves cannot run here; null when it can.</summary>
    public static string? EpollAbsentReason =>
        EpollRelay.OffReasonHere is not { } off ? null
        : Environment.GetEnvironmentVariable(EpollRelay.SwitchVariable) == "0"
            ? $"{off}, and this test drives its loops (./test runs it in the pass with the relay on)"
            : $"{off}, and this test drives its loops";
}

/// <summary>A fact about the epoll loops themselves: skipped, saying why, where the engine is off or absent.</summary>
public sealed class EpollFactAttribute : FactAttribute
{
    public EpollFactAttribute()
    {
        if (RelayPaths.EpollAbsentReason is { } reason)
        {
            Skip = reason;
        }
    }
}
