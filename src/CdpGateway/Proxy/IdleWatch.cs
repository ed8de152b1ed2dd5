namespace CdpGateway.Proxy;

/// <summary>
/// Ends a connection over which no data has moved for <c>--idle-timeout</c>: a client that vanished without a FIN, on a
/// path where no probe reaches it, otherwise holds its slot and its browser connection for as long as the gateway runs.
/// It looks only at what the relay counts anyway (<see cref="RelayCounters"/>), from one timer per connection, so the
/// forwarding path pays nothing for it. Pings and pongs are not counted there, so they keep no connection open.
/// </summary>
/// <remarks>
/// The timer ticks several times per timeout and the connection is idle once the counts stood still over that many
/// ticks in a row: it ends between one timeout and one tick more after its last data, not up to twice the timeout.
/// </remarks>
internal sealed class IdleWatch : IDisposable
{
    private const int TicksPerTimeout = 4;

    private readonly RelayCounters _fromClient;
    private readonly RelayCounters _fromUpstream;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer _timer;
    private long _seen;
    private int _stillTicks;

    private IdleWatch(TimeSpan timeout, TimeProvider time, RelayCounters fromClient, RelayCounters fromUpstream)
    {
        _fromClient = fromClient;
        _fromUpstream = fromUpstream;
        _seen = Moved();
        var tick = timeout / TicksPerTimeout;
        _timer = time.CreateTimer(static state => ((IdleWatch)state!).Tick(), this, tick, tick);
    }

    /// <summary>Completes when the connection has been idle for the timeout.</summary>
    public Task Idle => _idle.Task;

    /// <summary>A watch over both directions' counts; null (no timer at all) when <paramref name="timeout"/> is null.</summary>
    public static IdleWatch? Start(TimeSpan? timeout, TimeProvider time, RelayCounters fromClient, RelayCounters fromUpstream) =>
        timeout is { } t ? new IdleWatch(t, time, fromClient, fromUpstream) : null;

    public void Dispose() => _timer.Dispose();

    private long Moved() => _fromClient.Messages + _fromClient.Bytes + _fromUpstream.Messages + _fromUpstream.Bytes;

    private void Tick()
    {
        // Ticks of one timer do not overlap unless one is delayed past the next; a tick counted twice then only
        // brings the end a tick closer.
        var moved = Moved();
        if (moved != _seen)
        {
            _seen = moved;
            _stillTicks = 0;
            return;
        }
        if (++_stillTicks >= TicksPerTimeout)
        {
            _timer.Dispose();
            _idle.TrySetResult();
        }
    }
}
