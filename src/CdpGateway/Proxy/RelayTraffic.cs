namespace CdpGateway.Proxy;

/// <summary>Data messages and payload bytes relayed, by the side that sent them.</summary>
public readonly record struct RelayTraffic(long MessagesFromClient, long MessagesFromUpstream, long BytesFromClient, long BytesFromUpstream)
{
    public static RelayTraffic operator +(RelayTraffic a, RelayTraffic b) => new(
        a.MessagesFromClient + b.MessagesFromClient, a.MessagesFromUpstream + b.MessagesFromUpstream,
        a.BytesFromClient + b.BytesFromClient, a.BytesFromUpstream + b.BytesFromUpstream);
}
