namespace CdpGateway.Proxy;

/// <summary>Counts open client connections against --max-connections.</summary>
public sealed class ConnectionLimiter(int max)
{
    private int _open;

    public int Open => Volatile.Read(ref _open);

    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _open) <= max)
        {
            return true;
        }
        Interlocked.Decrement(ref _open);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _open);
}
