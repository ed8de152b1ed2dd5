namespace CdpGateway.Proxy;

/// <summary>
/// Messages and bytes relayed in one direction, counted after each successful forward. Written only
/// by that direction's loop; read by the connection once the destination is closed and no forward is
/// in flight, which is when the figures can no longer change.
/// </summary>
public sealed class RelayCounters
{
    private long _messages;
    private long _bytes;
    private int _forwarding;

    public long Messages => Volatile.Read(ref _messages);
    public long Bytes => Volatile.Read(ref _bytes);

    internal void BeginForward() => Volatile.Write(ref _forwarding, 1);

    internal void EndForward(long bytes, bool endOfMessage)
    {
        Volatile.Write(ref _bytes, _bytes + bytes);
        if (endOfMessage)
        {
            Volatile.Write(ref _messages, _messages + 1);
        }
        Volatile.Write(ref _forwarding, 0);
    }

    internal void ForwardFailed() => Volatile.Write(ref _forwarding, 0);

    /// <summary>
    /// Waits until no forward is in flight. Call it after closing the destination: a forward that
    /// starts afterwards fails, so the counts are then final.
    /// </summary>
    public async Task WaitUntilSettledAsync()
    {
        while (Volatile.Read(ref _forwarding) != 0)
        {
            await Task.Yield();
        }
    }
}
