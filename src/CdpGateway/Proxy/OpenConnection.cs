namespace CdpGateway.Proxy;

/// <summary>One open client connection as <see cref="OpenConnections"/> holds it.</summary>
/// <param name="Target">What <c>cdp_connect</c> reports as <c>target</c>: <c>browser</c> or <c>page</c>.</param>
/// <param name="TargetId">The DevTools target's id from the path (<c>/devtools/page/ID</c>), none for the browser.</param>
/// <param name="Client">The client's address and port, as <c>cdp_connect</c> reports it.</param>
/// <param name="FromClient">Written by the client-to-browser relay; readable at any time.</param>
/// <param name="FromUpstream">Written by the browser-to-client relay; readable at any time.</param>
public sealed record OpenConnection(string ConnectionId, string Target, string? TargetId, string? Client, DateTimeOffset ConnectedAt,
    RelayCounters FromClient, RelayCounters FromUpstream)
{
    /// <summary>What the relay has counted so far (each figure read once, lock-free).</summary>
    public RelayTraffic Traffic => new(FromClient.Messages, FromUpstream.Messages, FromClient.Bytes, FromUpstream.Bytes);
}
