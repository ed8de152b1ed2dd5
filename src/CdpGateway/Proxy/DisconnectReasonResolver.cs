using CdpGateway.Browser;
using CdpGateway.Telemetry;

namespace CdpGateway.Proxy;

/// <summary>
/// Decides a relayed connection's reason after both legs are closed: gathers the facts for
/// <see cref="DisconnectRules.Reason"/> and, when they leave it open, runs the confirm wait (a crashed browser's TCP EOF
/// arrives seconds before its successor's DevTools line) and asks again with what the wait saw.
/// docs/disconnect-contract.md states the rules.
/// </summary>
public sealed class DisconnectReasonResolver(DevToolsUrlTracker tracker, TimeProvider time)
{
    /// <param name="outcome">How the direction named by <paramref name="end"/> ended; null for the other ends.</param>
    /// <param name="cancelled">The gateway's stopping signal.</param>
    /// <param name="replacedUrl">The browser the gateway was replacing when the client was closed (<see cref="ReasonFacts.ReplacedUrl"/>).</param>
    public async Task<DisconnectReason> ResolveAsync(
        ConnectionEnd end, RelayEnd? outcome, string dialedBrowserUrl, DevToolsUrlTracker.Subscription subscription,
        TimeSpan confirmWait, CancellationToken cancelled, string? replacedUrl = null)
    {
        var facts = new ReasonFacts(end, outcome, cancelled.IsCancellationRequested, tracker.Current, dialedBrowserUrl, ReplacedUrl: replacedUrl);
        if (DisconnectRules.Reason(facts) is { } decided)
        {
            return decided;
        }
        tracker.ReportFailure(dialedBrowserUrl); // a browser that dropped its leg may be gone: health need not wait for its round
        var newUrl = await WaitForNewUrlAsync(dialedBrowserUrl, subscription, confirmWait, cancelled).ConfigureAwait(false);
        facts = facts with
        {
            Cancelled = cancelled.IsCancellationRequested,
            TrackedUrl = tracker.Current,
            Confirm = newUrl ? ConfirmWait.NewUrl : ConfirmWait.NoNewUrl,
        };
        return DisconnectRules.Reason(facts) ?? DisconnectReason.UpstreamError;
    }

    /// <summary>True when the tracker names a browser other than the dialled one within the wait.</summary>
    private async Task<bool> WaitForNewUrlAsync(string dialedBrowserUrl, DevToolsUrlTracker.Subscription subscription, TimeSpan confirmWait,
        CancellationToken cancelled)
    {
        using var deadline = new CancellationTokenSource(confirmWait, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancelled, deadline.Token);
        try
        {
            while (true)
            {
                var next = await subscription.NextAsync(linked.Token).ConfigureAwait(false);
                // Current is stored before any notification, so it is at least as new as `next`.
                if (next is null || DisconnectRules.HasMoved(tracker.Current, dialedBrowserUrl))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The wait ended: by cancellation (the caller looks at it again) or by the confirm deadline.
        }
        return DisconnectRules.HasMoved(tracker.Current, dialedBrowserUrl);
    }
}
