using System.Net.WebSockets;
using CdpGateway.Telemetry;

namespace CdpGateway.Proxy;

/// <summary>What ended a connection first.</summary>
public enum ConnectionEnd
{
    /// <summary>The client-to-browser direction stopped; its <see cref="RelayEnd"/> says which side stopped it.</summary>
    ClientToUpstream,

    /// <summary>The browser-to-client direction stopped; its <see cref="RelayEnd"/> says which side stopped it.</summary>
    UpstreamToClient,

    /// <summary>The tracked DevTools URL moved away from the dialled one while both legs were still up.</summary>
    BrowserMoved,

    /// <summary>The gateway began stopping while both legs were up.</summary>
    GatewayStopping,

    /// <summary>No data moved either way for the idle timeout while both legs were up; the gateway ended it.</summary>
    IdleTimeout,

    /// <summary>
    /// The client ended its side before the browser was reached: it closed or dropped its connection, broke the protocol
    /// or sent a message over the limit.
    /// </summary>
    ClientLeftWhileDialing,

    /// <summary>No browser leg was made: the dial failed or was cancelled.</summary>
    DialFailed,

    /// <summary>A fault inside the gateway; the client's socket is aborted.</summary>
    GatewayFault,

    /// <summary>An operator closed it through the API (<c>DELETE /connections/{id}</c>), while relaying or while dialling.</summary>
    ClosedByOperator,
}

/// <summary>What the confirm wait saw, if it ran.</summary>
public enum ConfirmWait
{
    NotWaited,
    NewUrl,
    NoNewUrl,
}

/// <summary>Everything the reason depends on.</summary>
/// <param name="Outcome">How the direction named by <paramref name="End"/> ended; null for the other ends.</param>
/// <param name="Cancelled">The gateway is stopping (and, for a dial, the request was aborted).</param>
/// <param name="TrackedUrl">What the DevTools URL tracker says now ("" while none is known).</param>
/// <param name="DialledUrl">The browser URL this connection's browser leg was dialled to.</param>
/// <param name="ReplacedUrl">
/// What <see cref="Browser.IChromiumControl.ReplacedDevToolsUrl"/> said when the client was closed: the same fact its
/// close frame was chosen by, so a client told 1012 <c>browser restarted</c> is never reported as a browser that failed.
/// </param>
public readonly record struct ReasonFacts(
    ConnectionEnd End,
    RelayEnd? Outcome = null,
    bool Cancelled = false,
    string TrackedUrl = "",
    string DialledUrl = "",
    ConfirmWait Confirm = ConfirmWait.NotWaited,
    string? ReplacedUrl = null);

/// <summary>Everything the client's close frame depends on: what is known when the client is closed, before the reason is.</summary>
/// <param name="Outcome">How the direction named by <paramref name="End"/> ended (for a client that left while dialling: its close, or a failed read).</param>
/// <param name="GatewayStopping">The gateway is stopping.</param>
/// <param name="Cancelled">The dial was cancelled (the gateway is stopping or the request was aborted).</param>
/// <param name="ReplacedUrl">What <see cref="Browser.IChromiumControl.ReplacedDevToolsUrl"/> says now.</param>
public readonly record struct CloseFacts(
    ConnectionEnd End,
    RelayOutcome? Outcome = null,
    bool GatewayStopping = false,
    bool Cancelled = false,
    string TrackedUrl = "",
    string DialledUrl = "",
    string? ReplacedUrl = null,
    long MaxMessageBytes = 0);

/// <summary>The close frame the gateway sends a client.</summary>
public readonly record struct ClientClose(WebSocketCloseStatus Status, string Text);

/// <summary>
/// The connection-end decisions, as pure functions of what happened: the reason <c>cdp_disconnect</c> reports, the close
/// frame the client gets and the <c>close_code</c> the event carries. docs/disconnect-contract.md states the same rules
/// as tables; the connection handler and the reason resolver only gather the facts.
/// </summary>
public static class DisconnectRules
{
    /// <summary>
    /// The reason, or null while it depends on the confirm wait (the browser side ended, nothing cancelled, the tracked URL
    /// still the dialled one, the browser not one the gateway was replacing, and <see cref="ReasonFacts.Confirm"/> not yet run): a crashed browser's connections drop
    /// before its successor announces a URL, so only the wait tells a restart from a loss.
    /// </summary>
    public static DisconnectReason? Reason(in ReasonFacts facts)
    {
        // The client leaving is what cancelled its own dial, so it comes before cancellation.
        if (facts.End == ConnectionEnd.ClientLeftWhileDialing)
        {
            return DisconnectReason.ClientClose;
        }
        if (facts.Cancelled || facts.End is ConnectionEnd.GatewayStopping or ConnectionEnd.IdleTimeout or ConnectionEnd.ClosedByOperator)
        {
            return DisconnectReason.ContextCancelled;
        }
        switch (facts.End)
        {
            case ConnectionEnd.GatewayFault:
            case ConnectionEnd.DialFailed:
                return DisconnectReason.UpstreamError;
            case ConnectionEnd.BrowserMoved:
                return DisconnectReason.UpstreamChanged;
        }
        if (!BrowserSideEnded(facts.End, facts.Outcome))
        {
            return DisconnectReason.ClientClose;
        }
        // A browser the gateway set out to replace (a restart, a flag change) was replaced, however long its successor
        // then takes to announce itself.
        if (BrowserReplaced(facts.TrackedUrl, facts.DialledUrl, facts.ReplacedUrl) || facts.Confirm == ConfirmWait.NewUrl)
        {
            return DisconnectReason.UpstreamChanged;
        }
        return facts.Confirm == ConfirmWait.NoNewUrl ? DisconnectReason.UpstreamError : null;
    }

    /// <summary>
    /// The close frame the client is sent, or null when none can reach it (its socket failed, or ours did). The text says
    /// what the gateway saw at that moment and never names a reason, which may still be undecided.
    /// </summary>
    public static ClientClose? CloseFor(in CloseFacts facts)
    {
        var outcome = facts.Outcome;
        switch (facts.End)
        {
            case ConnectionEnd.GatewayFault:
                return null;
            case ConnectionEnd.ClientLeftWhileDialing:
                return ClientSideClose(outcome, facts.MaxMessageBytes);
            case ConnectionEnd.GatewayStopping:
                return new ClientClose(WebSocketCloseStatus.EndpointUnavailable, CloseCodes.ShuttingDownText);
            case ConnectionEnd.IdleTimeout:
                return new ClientClose(WebSocketCloseStatus.EndpointUnavailable, CloseCodes.IdleTimeoutText);
            case ConnectionEnd.ClosedByOperator:
                return new ClientClose(CloseCodes.ClosedByOperator, CloseCodes.ClosedByOperatorText);
            case ConnectionEnd.DialFailed:
                if (facts.GatewayStopping)
                {
                    return new ClientClose(WebSocketCloseStatus.EndpointUnavailable, CloseCodes.ShuttingDownText);
                }
                return facts.Cancelled
                    ? new ClientClose(WebSocketCloseStatus.EndpointUnavailable, CloseCodes.RequestCancelledText)
                    : new ClientClose(WebSocketCloseStatus.InternalServerError, CloseCodes.BrowserUnreachableText);
        }
        if (!BrowserSideEnded(facts.End, outcome?.End))
        {
            return ClientSideClose(outcome, facts.MaxMessageBytes);
        }
        if (facts.GatewayStopping)
        {
            return new ClientClose(WebSocketCloseStatus.EndpointUnavailable, CloseCodes.ShuttingDownText);
        }
        if (BrowserReplaced(facts.TrackedUrl, facts.DialledUrl, facts.ReplacedUrl))
        {
            return new ClientClose(CloseCodes.BrowserRestarted, CloseCodes.BrowserRestartedText);
        }
        if (facts.End == ConnectionEnd.UpstreamToClient && outcome is { End: RelayEnd.SourceOversize } oversize)
        {
            return TooLarge(oversize, facts.MaxMessageBytes);
        }
        return new ClientClose(WebSocketCloseStatus.InternalServerError, CloseCodes.ConnectionLostText);
    }

    /// <summary>
    /// Who cancelled a <c>context_cancelled</c> connection, when it was not the gateway itself (<c>cancelled_by</c> in
    /// <c>cdp_disconnect</c>): <c>operator</c> for one closed through the API; null otherwise.
    /// </summary>
    public static string? CancelledBy(ConnectionEnd end, DisconnectReason reason) =>
        end == ConnectionEnd.ClosedByOperator && reason == DisconnectReason.ContextCancelled ? OperatorCanceller : null;

    /// <summary>The <c>cancelled_by</c> value of a connection an operator closed.</summary>
    public const string OperatorCanceller = "operator";

    /// <summary>
    /// The <c>close_code</c> a disconnect reports: the client's own code when it closed first, else the code of the close
    /// frame the gateway sent, when its write completed and the client can be shown to have it (it answered with its own
    /// close, or the kernel's send queue was empty before the socket was let go); else null.
    /// </summary>
    /// <param name="clientsOwn">The code of the client's close frame, when that came before anything else ended the connection.</param>
    /// <param name="sent">The code of the gateway's close frame, when its write completed.</param>
    /// <param name="replied">The client's close frame came after ours.</param>
    /// <param name="sendQueueEmpty">Whether nothing was left unacknowledged in the socket's send queue; null when it cannot be told.</param>
    public static int? CloseCode(int? clientsOwn, int? sent, bool replied, bool? sendQueueEmpty) =>
        clientsOwn ?? (sent is not null && (replied || sendQueueEmpty == true) ? sent : null);

    /// <summary>The code of the client's own close frame, when that is what ended the connection first.</summary>
    public static int? ClientsOwnCode(ConnectionEnd end, RelayOutcome? outcome) =>
        end is ConnectionEnd.ClientToUpstream or ConnectionEnd.ClientLeftWhileDialing && outcome is { End: RelayEnd.SourceClosed } closed
            ? (int)(closed.CloseStatus ?? WebSocketCloseStatus.NormalClosure)
            : null;

    /// <summary>
    /// This connection's browser is known to be going away on purpose: the tracker already names another browser, or
    /// the browser's owner set out to replace this very one. A browser's state alone says nothing about which browser a
    /// connection was dialled to.
    /// </summary>
    public static bool BrowserReplaced(string trackedUrl, string dialledUrl, string? replacedUrl) =>
        HasMoved(trackedUrl, dialledUrl) || (dialledUrl.Length > 0 && replacedUrl == dialledUrl);

    /// <summary>The tracker names a browser other than the dialled one (no URL at all is not a change).</summary>
    public static bool HasMoved(string current, string dialled) => current.Length > 0 && current != dialled;

    /// <summary>
    /// Whether the browser side stopped the direction: a failed write turns the blame around (writing to the client failed:
    /// the client's side ended it).
    /// </summary>
    private static bool BrowserSideEnded(ConnectionEnd end, RelayEnd? outcome) => end switch
    {
        ConnectionEnd.ClientToUpstream => outcome == RelayEnd.DestinationFailed,
        ConnectionEnd.UpstreamToClient => outcome != RelayEnd.DestinationFailed,
        _ => true,
    };

    /// <summary>The client's side ended it, while relaying or while its browser was being dialled: the same close either way.</summary>
    private static ClientClose? ClientSideClose(RelayOutcome? outcome, long maxMessageBytes) => outcome?.End switch
    {
        // Completes the handshake the client started, with its own code.
        RelayEnd.SourceClosed => Echo(outcome.Value),
        RelayEnd.SourceOversize => TooLarge(outcome.Value, maxMessageBytes),
        RelayEnd.SourceViolation => new ClientClose(WebSocketCloseStatus.ProtocolError, CloseCodes.ProtocolErrorText + outcome.Value.CloseDescription),
        _ => null,
    };

    private static ClientClose Echo(RelayOutcome closed) =>
        new(closed.CloseStatus ?? WebSocketCloseStatus.NormalClosure, closed.CloseDescription ?? "");

    private static ClientClose TooLarge(RelayOutcome oversize, long limit) =>
        new(WebSocketCloseStatus.MessageTooBig, $"{CloseCodes.TooLargeText}{oversize.MessageBytes} > {limit}");
}
