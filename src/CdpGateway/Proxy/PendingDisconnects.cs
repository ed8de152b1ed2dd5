using System.Collections.Concurrent;

namespace CdpGateway.Proxy;

/// <summary>
/// Connections whose socket is closed but whose <c>cdp_disconnect</c> is still being resolved (up to
/// the confirm wait). Shutdown waits for them so every disconnect reaches the events file.
/// </summary>
public sealed class PendingDisconnects
{
    private readonly ConcurrentDictionary<Task, byte> _running = new();

    public void Track(Task completion)
    {
        _running[completion] = 0;
        completion.ContinueWith(static (done, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(done, out _),
            _running, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Waits, up to <paramref name="limit"/>, for every pending disconnect to be emitted.</summary>
    public Task WaitAsync(TimeSpan limit) =>
        Task.WhenAll(_running.Keys).WaitAsync(limit).ContinueWith(static _ => { }, TaskScheduler.Default);
}
