namespace CdpGateway.Proxy;

/// <summary>What passing over part of a frame completed.</summary>
public enum FrameProgress
{
    /// <summary>Payload of the current frame is still to come.</summary>
    InFrame,

    /// <summary>A data frame ended without ending its message.</summary>
    FragmentDone,

    /// <summary>The final frame of a data message ended.</summary>
    MessageDone,

    /// <summary>A control frame (ping, pong) ended.</summary>
    ControlDone,
}

/// <summary>
/// Where one peer's frame stream stands between reads: inside which frame, how much of its payload is
/// still to come, and whether a fragmented message is open. A value that a relay direction carries
/// across reads; the observers copy it to walk the same bytes again after the forward.
/// </summary>
public struct FrameCursor(bool peerMasks)
{
    /// <summary>Whether the peer's frames must be masked (a client) or must not be (a server).</summary>
    public readonly bool PeerMasks = peerMasks;

    /// <summary>The frame being passed over (or the last one, at a frame boundary).</summary>
    public FrameHeader Frame { get; private set; }

    /// <summary>Payload bytes of <see cref="Frame"/> still to come; 0 at a frame boundary.</summary>
    public long Remaining { get; private set; }

    /// <summary>Payload bytes of <see cref="Frame"/> already passed (the masking position).</summary>
    public long FrameOffset { get; private set; }

    /// <summary>A data message has started and its final frame has not ended.</summary>
    public bool InMessage { get; private set; }

    /// <summary>Declared payload of the open (or last) data message, summed over its frames so far.</summary>
    public long MessagePayload { get; private set; }

    /// <summary>
    /// RFC 6455 §5 checks for a frame arriving at this point of the stream: what is wrong with it, in a few words; null
    /// when nothing is.
    /// </summary>
    public readonly string? Violation(in FrameHeader header)
    {
        if (header.Reserved != 0)
        {
            return "reserved bits set without an extension";
        }
        if (header.PayloadLength < 0)
        {
            return "invalid payload length";
        }
        if (header.Masked != PeerMasks)
        {
            return PeerMasks ? "client frames must be masked" : "server frames must not be masked";
        }
        return header.Opcode switch
        {
            FrameOpcode.Continuation => InMessage ? null : "continuation frame outside a message",
            FrameOpcode.Text or FrameOpcode.Binary => InMessage ? "new message before the previous one ended" : null,
            FrameOpcode.Close or FrameOpcode.Ping or FrameOpcode.Pong =>
                header.Fin && header.PayloadLength <= FrameHeader.MaxControlPayload ? null : "fragmented or oversized control frame",
            _ => "unknown opcode",
        };
    }

    /// <summary>The message's declared payload if <paramref name="header"/> (a data frame) joined it.</summary>
    public readonly long PayloadWith(in FrameHeader header) =>
        header.Opcode == FrameOpcode.Continuation ? MessagePayload + header.PayloadLength : header.PayloadLength;

    /// <summary>Steps past an accepted header; a frame without payload ends here.</summary>
    public FrameProgress Enter(in FrameHeader header)
    {
        Frame = header;
        Remaining = header.PayloadLength;
        FrameOffset = 0;
        if (header.Opcode is FrameOpcode.Text or FrameOpcode.Binary)
        {
            InMessage = true;
            MessagePayload = header.PayloadLength;
        }
        else if (header.Opcode == FrameOpcode.Continuation)
        {
            MessagePayload += header.PayloadLength;
        }
        return Remaining == 0 ? Finish() : FrameProgress.InFrame;
    }

    /// <summary>Steps past <paramref name="count"/> payload bytes of the current frame (at most <see cref="Remaining"/>).</summary>
    public FrameProgress Consume(long count)
    {
        Remaining -= count;
        FrameOffset += count;
        return Remaining == 0 ? Finish() : FrameProgress.InFrame;
    }

    private FrameProgress Finish()
    {
        if (Frame.IsControl)
        {
            return FrameProgress.ControlDone;
        }
        if (!Frame.Fin)
        {
            return FrameProgress.FragmentDone;
        }
        InMessage = false;
        return FrameProgress.MessageDone;
    }
}
