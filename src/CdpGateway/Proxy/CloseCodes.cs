using System.Net.WebSockets;

namespace CdpGateway.Proxy;

/// <summary>
/// What a client is told when the gateway ends its socket (README, "The DevTools port", its close-code table; the
/// rules are in docs/disconnect-contract.md). Each text says what the gateway saw when it closed the socket, never a
/// disconnect reason: the reason may still be undecided then.
/// </summary>
public static class CloseCodes
{
    public const WebSocketCloseStatus BrowserRestarted = (WebSocketCloseStatus)1012;
    public const string BrowserRestartedText = "browser restarted";
    public const string ConnectionLostText = "browser connection lost";
    public const string BrowserUnreachableText = "browser unreachable";
    public const string ShuttingDownText = "gateway shutting down";
    public const string RequestCancelledText = "request cancelled";
    public const string IdleTimeoutText = "idle timeout";

    /// <summary>
    /// An operator closed the connection (<c>DELETE /connections/{id}</c>): 1008, the code for an endpoint ending a
    /// connection by its own policy, so a client tells a deliberate refusal from a shutdown (1001, worth a retry) and a
    /// failure (1011).
    /// </summary>
    public const WebSocketCloseStatus ClosedByOperator = WebSocketCloseStatus.PolicyViolation;
    public const string ClosedByOperatorText = "closed by operator";

    /// <summary>Followed by the message's size and the limit ("message too large: 2048 > 1024").</summary>
    public const string TooLargeText = "message too large: ";

    /// <summary>Followed by what the client's frame got wrong ("client frames must be masked").</summary>
    public const string ProtocolErrorText = "protocol error: ";
}
