using System.Buffers;

namespace CdpGateway.Proxy;

/// <summary>
/// Watches the client while the gateway dials the browser, which may take the whole dial window when Chromium is
/// restarting. Nothing else reads the client then, so without this a client that gives up would be noticed only when
/// the dial ends, and its connection reported by the dial's outcome instead of its own leaving.
/// </summary>
/// <remarks>
/// The watch takes nothing away from the relay: what it reads stays in the leg as unread bytes (the client may send
/// its first commands before the browser is reached), and a zero-byte read it started when the dial ended is handed to
/// the relay's first read, so the common case (a dial of a millisecond) costs no cancelled read and no buffer. It passes
/// over the bytes with the relay's own checks (<see cref="WebSocketFrameRelay.Scan"/> and
/// <see cref="WebSocketFrameRelay.Ending"/>), so a client is held to the same protocol and size limit before the browser
/// is reached as after: whatever would end a relay direction ends the connection here, with the same outcome.
/// </remarks>
public static class ClientLeaveWatch
{
    /// <summary>A client that sends more than this while the dial lasts is no longer watched (the relay reads it later).</summary>
    public const int MaxBufferedBytes = 1 << 20;

    private const int ReadBytes = 4096;

    /// <summary>
    /// Watches until the client leaves or <paramref name="stop"/> completes. Returns how the client ended its side (a close
    /// frame, a failed read, a protocol violation, an oversize message), as a relay direction reading it would have;
    /// null when it did not.
    /// </summary>
    public static async Task<RelayOutcome?> WatchAsync(WebSocketLeg client, long maxMessageBytes, Task stop)
    {
        byte[] buffer = client.TakeUnread();
        int filled = buffer.Length;
        var cursor = client.Cursor;
        var scanned = default(WebSocketFrameRelay.Scanned);
        // Once the watch ends the client's side, the leg holds what the relay's own ending leaves it (its place after a
        // violation); otherwise every byte read goes back unread, for the relay to pass over again from the start.
        var ended = false;
        // What the watch reads goes through a pooled array: the leg keeps its own copy of it (PutBack), and a client
        // that sends its first command before the browser answers the dial is the common case, one read per connection.
        bool rented = false;
        try
        {
            while (true)
            {
                var stopAt = WebSocketFrameRelay.Scan(ref cursor, buffer.AsSpan(0, filled), maxMessageBytes, finishing: false, ref scanned);
                if (WebSocketFrameRelay.Ending(stopAt, client, cursor, buffer.AsSpan(scanned.End, filled - scanned.End), scanned) is { } ending)
                {
                    ended = true;
                    return ending;
                }
                if (stop.IsCompleted || filled >= MaxBufferedBytes)
                {
                    return null;
                }
                ValueTask<int> zeroByteRead = client.ReadStreamAsync(Memory<byte>.Empty);
                if (zeroByteRead.IsCompleted)
                {
                    zeroByteRead.GetAwaiter().GetResult();
                }
                else
                {
                    Task<int> pending = zeroByteRead.AsTask();
                    if (await Task.WhenAny(pending, stop).ConfigureAwait(false) != pending)
                    {
                        client.HandOver(pending);
                        return null;
                    }
                    await pending.ConfigureAwait(false);
                }
                if (!client.Readable())
                {
                    // A socket's zero-byte read can end without data (a readiness left over from bytes already
                    // read); a real read now would wait past the dial's end, so wait again.
                    continue;
                }
                if (buffer.Length - filled < ReadBytes)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, filled + ReadBytes));
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    if (rented)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                    buffer = larger;
                    rented = true;
                }
                int read = await client.ReadStreamAsync(buffer.AsMemory(filled)).ConfigureAwait(false);
                if (read == 0)
                {
                    ended = true;
                    return WebSocketFrameRelay.Failed(client);
                }
                filled += read;
            }
        }
        catch (Exception e)
        {
            // Reset or aborted: the client is gone.
            ended = true;
            return WebSocketFrameRelay.Failed(client, e);
        }
        finally
        {
            if (!ended)
            {
                client.PutBack(buffer.AsSpan(0, filled));
            }
            if (rented)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
