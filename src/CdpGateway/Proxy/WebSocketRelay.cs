using System.Buffers;
using System.Net.WebSockets;

namespace CdpGateway.Proxy;

/// <summary>
/// Copies WebSocket messages from one socket to another, unchanged and in order, frame chunk by
/// frame chunk: no parsing, no per-message allocation. Between messages it waits with a zero-byte
/// receive so an idle connection holds no buffer. It never throws: the return value says which side
/// ended the copy.
/// </summary>
public static class WebSocketRelay
{
    /// <summary>Chunk size rented from the shared pool while a message is in flight.</summary>
    public const int ChunkBytes = 32 * 1024;

    /// <summary>Optional per-message logging (<c>--log-cdp-messages</c>); null on the normal path.</summary>
    public sealed record MessageLogging(CdpMessageLog Log, string ConnectionId, string Direction);

    public static async Task<RelayOutcome> CopyAsync(
        WebSocket source, WebSocket destination, long maxMessageBytes, RelayCounters counters, MessageLogging? logging = null)
    {
        CdpMessageLog.Header header = default;
        byte[]? buffer = null;
        long messageBytes = 0;
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

                try
                {
                    result = await source.ReceiveAsync(buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    return new RelayOutcome(RelayEnd.SourceFailed);
                }
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return Closed(source);
                }
                if (logging is not null && messageBytes == 0)
                {
                    header = CdpMessageLog.ReadHeader(buffer.AsSpan(0, result.Count));
                }
                messageBytes += result.Count;
                if (messageBytes > maxMessageBytes)
                {
                    return new RelayOutcome(RelayEnd.SourceOversize);
                }
                if (!await TrySendAsync(destination, buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, counters).ConfigureAwait(false))
                {
                    return new RelayOutcome(RelayEnd.DestinationFailed);
                }
                if (result.EndOfMessage)
                {
                    logging?.Log.Log(logging.ConnectionId, logging.Direction, header, messageBytes);
                    messageBytes = 0;
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
            }
        }
        finally
        {
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
