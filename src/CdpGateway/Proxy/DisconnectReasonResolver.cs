using CdpGateway.Browser;
using CdpGateway.Telemetry;

namespace CdpGateway.Proxy;

/// <summary>
/// Turns a pump exit cause into the disconnect reason, after both legs are closed. Cancellation wins
/// over everything; a client-side end is the client's; an upstream end is a browser change when the
/// tracked URL differs from the dialled one now or within the confirm wait (a crashed browser's TCP
/// EOF arrives seconds before its successor's DevTools line), and an error otherwise.
/// </summary>
public sealed class DisconnectReasonResolver(DevToolsUrlTracker tracker, TimeProvider time)
{
    public async Task<DisconnectReason> ResolveAsync(
        PumpExitCause cause, string dialedBrowserUrl, DevToolsUrlTracker.Subscription subscription,
        TimeSpan confirmWait, CancellationToken cancelled)
    {
        if (cancelled.IsCancellationRequested)
        {
            return DisconnectReason.ContextCancelled;
        }
        switch (cause)
        {
            case PumpExitCause.Client:
                return DisconnectReason.ClientClose;
            case PumpExitCause.Cancelled:
                return DisconnectReason.ContextCancelled;
        }

        if (HasMoved(tracker.Current, dialedBrowserUrl))
        {
            return DisconnectReason.UpstreamChanged;
        }
        using var deadline = new CancellationTokenSource(confirmWait, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancelled, deadline.Token);
        try
        {
            while (true)
            {
                var next = await subscription.NextAsync(linked.Token).ConfigureAwait(false);
                // Current is stored before any notification, so it is at least as new as `next`.
                if (next is null || HasMoved(tracker.Current, dialedBrowserUrl))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The wait ended: by cancellation (decided below) or by the confirm deadline.
        }
        if (cancelled.IsCancellationRequested)
        {
            return DisconnectReason.ContextCancelled;
        }
        return HasMoved(tracker.Current, dialedBrowserUrl) ? DisconnectReason.UpstreamChanged : DisconnectReason.UpstreamError;
    }

    public static bool HasMoved(string current, string dialed) => current.Length > 0 && current != dialed;
}
