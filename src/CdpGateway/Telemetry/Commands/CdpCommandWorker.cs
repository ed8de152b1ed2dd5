using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Works the command queues of every <see cref="CdpCommandRecorder"/> that publishes to one publisher, off the
/// forwarding path, in batches, on one thread of its own. A recorder with queued commands is put on the ready
/// list once; the thread works every ready recorder's queue in turn, waits up to <see cref="BatchDelay"/>, and looks
/// again. So the relay thread only enqueues (no timer to arm, no thread to signal), commands share one wake-up per
/// batch, a connection's commands are worked in order, and a classifier or publisher runs on one thread per publisher.
/// </summary>
/// <remarks>
/// <para>
/// The delay is long on purpose: every wake-up of this thread takes a core from the relay or from Chromium on a small
/// machine, and 1 ms batches cost clearly more throughput than 10 ms ones (see bench/README.md, "Still missed, by how
/// much, and why", on telemetry cost). Events carry their forward's time, so the delay never moves them; it only makes
/// them appear up to one batch later. A burst
/// does not wait for the batch: a connection whose queue reaches <see cref="WakeFrames"/> frames or
/// <see cref="WakeBytes"/> bytes wakes the thread at once (<see cref="WakeEarly"/>), far below the queue's bound.
/// </para>
/// <para>
/// After <see cref="IdleExit"/> without any command the thread ends, and the next command starts a new one, so an
/// idle gateway holds no thread and no wake-ups.
/// </para>
/// <para>
/// One worker per publisher rather than per process: a publisher that blocks stalls the telemetry of its own gateway
/// (whose connections then count what their drain could not wait for as dropped), never another's.
/// </para>
/// </remarks>
internal sealed class CdpCommandWorker
{
    /// <summary>How long a batch gathers commands before the thread works it (unless woken early).</summary>
    internal static readonly TimeSpan BatchDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>A connection with this many commands queued wakes the thread before the batch is due.</summary>
    internal const int WakeFrames = CdpCommandRecorder.QueueFrames / 4;

    /// <summary>A connection with this many bytes of commands queued wakes the thread before the batch is due.</summary>
    internal const long WakeBytes = CdpCommandRecorder.QueueBytes / 4;

    /// <summary>How long the thread stays after its last command before it ends.</summary>
    internal static readonly TimeSpan IdleExit = TimeSpan.FromMilliseconds(250);

    private const int Stopped = 0;
    private const int Running = 1;
    private const int Manual = 2;

    private static readonly ConditionalWeakTable<IEventPublisher, CdpCommandWorker> Workers = new();

    private readonly ConcurrentQueue<CdpCommandRecorder> _ready = new();
    // Set only by a connection whose queue passed a wake mark (rare); no spinning: the waits are long anyway.
    private readonly ManualResetEventSlim _wake = new(false, 0);
    private int _state;
    private long _earlyWakes;

    private CdpCommandWorker(int state) => _state = state;

    /// <summary>The worker shared by every recorder of <paramref name="publisher"/>.</summary>
    public static CdpCommandWorker For(IEventPublisher publisher) =>
        Workers.GetValue(publisher, static _ => new CdpCommandWorker(Stopped));

    /// <summary>
    /// For benchmarks and tests: makes <paramref name="publisher"/>'s recorders use a worker that only runs when
    /// <see cref="RunPending"/> is called, on the caller's thread.
    /// </summary>
    internal static CdpCommandWorker CreateManual(IEventPublisher publisher)
    {
        var worker = new CdpCommandWorker(Manual);
        Workers.AddOrUpdate(publisher, worker);
        return worker;
    }

    /// <summary>True while the worker has a thread (it ends <see cref="IdleExit"/> after the last command).</summary>
    internal bool HasThread => Volatile.Read(ref _state) == Running;

    /// <summary>Works every ready recorder now (see <see cref="CreateManual"/>).</summary>
    internal void RunPending() => RunReady();

    /// <summary>Puts a recorder with queued commands on the ready list (the caller makes sure it is there once).</summary>
    public void Schedule(CdpCommandRecorder recorder)
    {
        _ready.Enqueue(recorder);
        // After the enqueue: a thread that is ending looks at the list after giving up its state, so either it sees
        // this recorder or this sees it stopped.
        if (Volatile.Read(ref _state) == Stopped && Interlocked.CompareExchange(ref _state, Running, Stopped) == Stopped)
        {
            Start();
        }
    }

    /// <summary>Works the ready list now instead of at the end of the batch (a connection's queue is filling).</summary>
    public void WakeEarly()
    {
        Interlocked.Increment(ref _earlyWakes);
        _wake.Set();
    }

    /// <summary>How many times a filling queue woke the thread before its batch was due.</summary>
    internal long EarlyWakes => Interlocked.Read(ref _earlyWakes);

    private void Start()
    {
        // The first connection's execution context (logging scopes, activities) must not live on in the thread.
        using (ExecutionContext.SuppressFlow())
        {
            new Thread(static state => ((CdpCommandWorker)state!).Loop())
            {
                IsBackground = true,
                Name = "cdp_command worker",
            }.UnsafeStart(this);
        }
    }

    private void Loop()
    {
        BatchScheduling.TryApplyToCurrentThread();
        long idleSince = Environment.TickCount64;
        while (true)
        {
            _wake.Wait(BatchDelay);
            _wake.Reset();
            if (!_ready.IsEmpty)
            {
                RunReady();
                idleSince = Environment.TickCount64;
                continue;
            }
            if (Environment.TickCount64 - idleSince < (long)IdleExit.TotalMilliseconds)
            {
                continue;
            }
            Volatile.Write(ref _state, Stopped);
            // A recorder scheduled just before the state changed saw it running: keep going for it, unless a new
            // thread was started for it already.
            if (_ready.IsEmpty || Interlocked.CompareExchange(ref _state, Running, Stopped) != Stopped)
            {
                return;
            }
        }
    }

    private void RunReady()
    {
        CdpPayloadWriter payload = CdpPayloadWriter.Rent();
        try
        {
            while (_ready.TryDequeue(out var recorder))
            {
                try
                {
                    recorder.RunQueued(payload);
                }
                catch (Exception)
                {
                    // RunQueued does not throw (the publisher's failures are counted in it); this only keeps a bug
                    // there from ending the thread and with it every connection's telemetry.
                }
            }
        }
        finally
        {
            CdpPayloadWriter.Return(payload);
        }
    }
}
