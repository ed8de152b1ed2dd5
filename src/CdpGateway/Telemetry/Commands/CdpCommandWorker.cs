using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Works the command queues of every <see cref="CdpCommandRecorder"/> that publishes to one publisher, off the
/// forwarding path, in short batches. A recorder with queued commands is put on the ready list once; the first one
/// arms a timer (<see cref="BatchDelay"/>), and when it fires one thread-pool thread works every ready recorder's queue
/// in turn. So commands cost no thread wake-up each (the relay thread only takes a lock and, at most once per batch,
/// arms the timer), a connection's commands are worked in order by one thread at a time, and a classifier or
/// publisher runs on at most one thread per publisher.
/// </summary>
/// <remarks>
/// One worker per publisher rather than per process: a publisher that blocks stalls the telemetry of its own gateway
/// (whose connections then count what their drain could not wait for as dropped), never another's. Events are
/// stamped with their forward's time, so the batch delay never moves them.
/// </remarks>
internal sealed class CdpCommandWorker
{
    /// <summary>How long the first queued command waits for others to share its thread wake-up.</summary>
    internal static readonly TimeSpan BatchDelay = TimeSpan.FromMilliseconds(1);

    private static readonly ConditionalWeakTable<IEventPublisher, CdpCommandWorker> Workers = new();

    private readonly ConcurrentQueue<CdpCommandRecorder> _ready = new();
    private readonly Timer? _timer;

    // 1 from the moment a recorder arms the timer until the batch ends with nothing left to work.
    private int _armed;

    private CdpCommandWorker(bool manual = false)
    {
        if (manual)
        {
            return;
        }
        // The first connection's execution context (logging scopes, activities) must not live on in the timer.
        using (ExecutionContext.SuppressFlow())
        {
            _timer = new Timer(static state => ((CdpCommandWorker)state!).Run(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The worker shared by every recorder of <paramref name="publisher"/>.</summary>
    public static CdpCommandWorker For(IEventPublisher publisher) =>
        Workers.GetValue(publisher, static _ => new CdpCommandWorker());

    /// <summary>
    /// For benchmarks and tests: makes <paramref name="publisher"/>'s recorders use a worker that only runs when
    /// <see cref="RunPending"/> is called, on the caller's thread.
    /// </summary>
    internal static CdpCommandWorker CreateManual(IEventPublisher publisher)
    {
        var worker = new CdpCommandWorker(manual: true);
        Workers.AddOrUpdate(publisher, worker);
        return worker;
    }

    /// <summary>Works every ready recorder now (see <see cref="CreateManual"/>).</summary>
    internal void RunPending() => Run();

    /// <summary>Puts a recorder with queued commands on the ready list (the caller makes sure it is there once).</summary>
    public void Schedule(CdpCommandRecorder recorder)
    {
        _ready.Enqueue(recorder);
        if (Interlocked.CompareExchange(ref _armed, 1, 0) == 0)
        {
            _timer?.Change(BatchDelay, Timeout.InfiniteTimeSpan);
        }
    }

    private void Run()
    {
        CdpPayloadWriter payload = CdpPayloadWriter.Rent();
        try
        {
            while (true)
            {
                while (_ready.TryDequeue(out var recorder))
                {
                    try
                    {
                        recorder.RunQueued(payload);
                    }
                    catch (Exception)
                    {
                        // RunQueued does not throw (the publisher's failures are counted in it); this only keeps a
                        // bug there from taking the process down with an unhandled timer exception.
                    }
                }
                // Disarm, then look again: a recorder that was scheduled after the last dequeue but saw the worker
                // still armed is worked here; one scheduled after this arms the timer itself.
                Interlocked.Exchange(ref _armed, 0);
                if (_ready.IsEmpty || Interlocked.CompareExchange(ref _armed, 1, 0) != 0)
                {
                    return;
                }
            }
        }
        finally
        {
            CdpPayloadWriter.Return(payload);
        }
    }
}
