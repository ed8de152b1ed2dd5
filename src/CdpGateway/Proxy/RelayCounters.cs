namespace CdpGateway.Proxy;

/// <summary>
/// Messages and bytes relayed in one direction. Written only by that direction's loop and read
/// after it has finished, so plain fields suffice.
/// </summary>
public sealed class RelayCounters
{
    public long Messages;
    public long Bytes;
}
