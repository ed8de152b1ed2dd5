namespace CdpGateway.Proxy;

/// <summary>
/// Something that watches the client's text messages from behind the forwarding path. The relay calls
/// it with each message's chunks and tells it when the whole message has been written to Chromium;
/// it must be cheap and never block (real work goes to a queue).
/// </summary>
public interface IMessageTap
{
    /// <summary>
    /// Whether the tap looks at messages at all right now (command telemetry switched on); when false the relay
    /// neither unmasks nor shows it the next message.
    /// </summary>
    bool WantsMessages { get; }

    /// <summary>The first chunk of a text message; true to be shown the rest.</summary>
    bool Begin(ReadOnlySpan<byte> firstChunk, bool endOfMessage);

    /// <summary>A later chunk of a message <see cref="Begin"/> accepted.</summary>
    void Append(ReadOnlySpan<byte> chunk);

    /// <summary>The accepted message was written to Chromium in full; <paramref name="timestamp"/> is when.</summary>
    void Forwarded(long timestamp);

    /// <summary>The accepted message was not forwarded in full (write failed, message too big).</summary>
    void Abandon();
}
