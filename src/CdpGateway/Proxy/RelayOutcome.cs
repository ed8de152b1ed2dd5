using System.Net.WebSockets;
using System.Runtime.InteropServices;

namespace CdpGateway.Proxy;

/// <summary>Which end of one relay direction stopped it. A value, not an exception to decode.</summary>
public enum RelayEnd
{
    /// <summary>The side we read from sent a close frame.</summary>
    SourceClosed,

    /// <summary>Reading failed: reset, abort, end of stream.</summary>
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

    /// <summary>The gateway asked it to end at a frame boundary (<see cref="RelayFinish"/>), and it did.</summary>
    Finished,
}

/// <summary>
/// How one relay direction ended, with the close status the source sent, if any. A failure keeps what failed (the
/// exception of the runtime's sockets, or the errno of the epoll relay's calls) so a connection's end can be explained
/// afterwards; both are set only at the end, never per message.
/// </summary>
public readonly record struct RelayOutcome(RelayEnd End, WebSocketCloseStatus? CloseStatus = null, string? CloseDescription = null)
{
    /// <summary>For <see cref="RelayEnd.SourceOversize"/>: the payload the message would have had with the frame that broke the limit.</summary>
    public long MessageBytes { get; init; }

    /// <summary>The exception a read or write ended with (the runtime's sockets, a fault of ours).</summary>
    public Exception? Error { get; init; }

    /// <summary>The errno a <c>recv</c> or <c>send</c> ended with (the epoll relay); 0 for none.</summary>
    public int Errno { get; init; }

    /// <summary>One line for the debug log.</summary>
    public override string ToString()
    {
        var text = End.ToString();
        if (CloseStatus is { } status)
        {
            text += $" {(int)status} \"{CloseDescription}\"";
        }
        else if (CloseDescription is { } description)
        {
            text += $" ({description})";
        }
        if (End == RelayEnd.SourceOversize)
        {
            text += $" ({MessageBytes} bytes)";
        }
        if (Error is { } error)
        {
            text += $": {error.GetType().Name}: {error.Message}";
        }
        else if (Errno != 0)
        {
            text += $": errno {Errno} ({Marshal.GetPInvokeErrorMessage(Errno)})";
        }
        else if (End is RelayEnd.SourceFailed or RelayEnd.DestinationFailed)
        {
            text += ": end of stream, or a socket the gateway closed";
        }
        return text;
    }
}
