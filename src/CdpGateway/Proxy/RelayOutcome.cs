using System.Net.WebSockets;

namespace CdpGateway.Proxy;

/// <summary>Which end of one relay direction stopped it. A value, not an exception to decode.</summary>
public enum RelayEnd
{
    /// <summary>The side we read from sent a close frame.</summary>
    SourceClosed,

    /// <summary>Reading failed: reset, abort, protocol error.</summary>
    SourceFailed,

    /// <summary>
    /// The side we read from broke the WebSocket protocol (an unmasked client frame, a reserved bit, ...); the
    /// description says how. Its connection is still usable for a close frame.
    /// </summary>
    SourceViolation,

    /// <summary>The side we read from sent a message over the size limit.</summary>
    SourceOversize,

    /// <summary>Writing to the other side failed.</summary>
    DestinationFailed,
}

/// <summary>How one relay direction ended, with the close status the source sent, if any.</summary>
public readonly record struct RelayOutcome(RelayEnd End, WebSocketCloseStatus? CloseStatus = null, string? CloseDescription = null);

/// <summary>Which side of a connection ended it first (the pump's exit cause).</summary>
public enum PumpExitCause
{
    Client,
    Upstream,
    Cancelled,
}
