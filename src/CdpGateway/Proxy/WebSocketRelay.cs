using System.Buffers;
using System.Net.WebSockets;

namespace CdpGateway.Proxy;

/// <summary>
/// Copies WebSocket messages from one socket to another, unchanged and in order, chunk by chunk
/// (a message up to 32 KiB in one piece, a larger one in pieces of up to 256 KiB): no parsing, no
/// per-message allocation. Between messages it waits with a zero-byte
/// receive so an idle connection holds no buffer. It never throws: the return value says which side
/// ended the copy. Observers (message logging, command telemetry) see messages only through the
/// optional hooks, and only after the forward.
/// </summary>
public static class WebSocketRelay
{
    /// <summary>Chunk size rented from the shared pool while a message is in flight.</summary>
    public const int ChunkBytes = 32 * 1024;

    /// <summary>
    /// Chunk size for the rest of a message once its first chunk filled <see cref="ChunkBytes"/>
    /// without ending it: a large message then costs a few receive/send pairs (and frames) per MiB
    /// instead of 32. Held only while that message is in flight.
    /// </summary>
    public const int LargeChunkBytes = 256 * 1024;

    /// <summary>Optional per-message logging (<c>--log-cdp-messages</c>); null on the normal path.</summary>
    public sealed record MessageLogging(CdpMessageLog Log, string ConnectionId, string Direction);

    /// <summary>What one direction needs besides its two sockets.</summary>
    public sealed record Options(long MaxMessageBytes, TimeProvider Time, MessageLogging? Logging = null, IMessageTap? Tap = null);

    public static async Task<RelayOutcome> CopyAsync(WebSocket source, WebSocket destination, RelayCounters counters, Options options)
    {
        byte[]? buffer = null;
        long messageBytes = 0;
        var tapped = false;
        CdpMessageLog.Header header = default;
        try
        {
            while (true)
            {
                ValueWebSocketReceiveResult result;
                if (buffer is null)
                {
                    // Wait for the next frame without holding memory; an empty message completes here.
                    try
                    {
                        result = await source.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception)
                    {
                        return new RelayOutcome(RelayEnd.SourceFailed);
                    }
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return Closed(source);
                    }
                    if (result.EndOfMessage)
                    {
                        if (!await TrySendAsync(destination, ReadOnlyMemory<byte>.Empty, result.MessageType, true, counters).ConfigureAwait(false))
                        {
                            return new RelayOutcome(RelayEnd.DestinationFailed);
                        }
                        continue;
                    }
                    buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
                }

                // Fill the chunk before sending it (or stop at the message's end): a receive returns what
                // one socket read brought, a few KiB when completions run inline, and every send is a
                // frame, a masking pass and a syscall. The message is not usable before its end anyway.
                var filled = 0;
                do
                {
                    try
                    {
                        result = await source.ReceiveAsync(buffer.AsMemory(filled), CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception)
                    {
                        return new RelayOutcome(RelayEnd.SourceFailed);
                    }
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return Closed(source);
                    }
                    filled += result.Count;
                }
                while (!result.EndOfMessage && filled < buffer.Length);
                var chunk = buffer.AsMemory(0, filled);
                if (messageBytes == 0)
                {
                    if (options.Logging is not null)
                    {
                        header = CdpMessageLog.ReadHeader(chunk.Span);
                    }
                    tapped = options.Tap is { } tap && result.MessageType == WebSocketMessageType.Text && tap.Begin(chunk.Span, result.EndOfMessage);
                }
                else if (tapped)
                {
                    options.Tap!.Append(chunk.Span);
                }
                messageBytes += filled;
                if (messageBytes > options.MaxMessageBytes)
                {
                    return new RelayOutcome(RelayEnd.SourceOversize);
                }
                if (!await TrySendAsync(destination, chunk, result.MessageType, result.EndOfMessage, counters).ConfigureAwait(false))
                {
                    return new RelayOutcome(RelayEnd.DestinationFailed);
                }
                if (!result.EndOfMessage && buffer.Length < LargeChunkBytes)
                {
                    // A large message: the rest goes through a larger chunk.
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                    buffer = ArrayPool<byte>.Shared.Rent(LargeChunkBytes);
                }
                if (result.EndOfMessage)
                {
                    if (tapped)
                    {
                        tapped = false;
                        options.Tap!.Forwarded(options.Time.GetTimestamp());
                    }
                    options.Logging?.Log.Log(options.Logging.ConnectionId, options.Logging.Direction, header, messageBytes);
                    messageBytes = 0;
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
            }
        }
        finally
        {
            if (tapped)
            {
                options.Tap!.Abandon();
            }
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static RelayOutcome Closed(WebSocket source) =>
        new(RelayEnd.SourceClosed, source.CloseStatus, source.CloseStatusDescription);

    private static async ValueTask<bool> TrySendAsync(WebSocket destination, ReadOnlyMemory<byte> data, WebSocketMessageType type, bool endOfMessage, RelayCounters counters)
    {
        counters.BeginForward();
        try
        {
            await destination.SendAsync(data, type, endOfMessage, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception)
        {
            counters.ForwardFailed();
            return false;
        }
        counters.EndForward(data.Length, endOfMessage);
        return true;
    }
}
