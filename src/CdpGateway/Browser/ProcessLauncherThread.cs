using System.Collections.Concurrent;
using System.Diagnostics;

namespace CdpGateway.Browser;

/// <summary>
/// Starts processes from one dedicated, long-lived thread. The launch chain sets a parent-death signal
/// (PR_SET_PDEATHSIG), which Linux ties to the thread that forked the child, not to the process: a child
/// forked from a thread-pool thread would be killed when that thread retires. This thread lives until the
/// supervisor is disposed, after its last Chromium has been stopped.
/// </summary>
internal sealed class ProcessLauncherThread : IDisposable
{
    private readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Done)> _queue = new();
    private readonly Thread _thread;

    public ProcessLauncherThread()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "chromium-launcher" };
        _thread.Start();
    }

    /// <summary>Starts <paramref name="info"/> on the launcher thread; throws what <see cref="Process.Start()"/> throws.</summary>
    public Process Start(ProcessStartInfo info)
    {
        var done = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add((info, done));
        return done.Task.GetAwaiter().GetResult();
    }

    private void Run()
    {
        foreach (var (info, done) in _queue.GetConsumingEnumerable())
        {
            try
            {
                var process = new Process { StartInfo = info };
                process.Start();
                done.SetResult(process);
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(5));
        _queue.Dispose();
    }
}
