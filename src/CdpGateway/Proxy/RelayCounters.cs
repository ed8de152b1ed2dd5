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

    /// <summary>A write went through: <paramref name="payloadBytes"/> of data payload (headers and control frames not counted) completing <paramref name="messages"/> data messages.</summary>
    internal void EndForward(long payloadBytes, int messages)
    {
        Volatile.Write(ref _bytes, _bytes + payloadBytes);
        if (messages != 0)
        {
            Volatile.Write(ref _messages, _messages + messages);
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
