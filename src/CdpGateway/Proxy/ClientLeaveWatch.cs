using System.Buffers;
using System.Net.WebSockets;

namespace CdpGateway.Proxy;

/// <summary>How the client left while the gateway was still dialling the browser.</summary>
public enum ClientLeave
{
    /// <summary>It did not (the dial ended first, or it sent more than the watch keeps).</summary>
    None,

    /// <summary>Its stream ended or failed: no close handshake.</summary>
    StreamEnded,

    /// <summary>It sent a close frame.</summary>
    CloseFrame,
}

public readonly record struct ClientLeaveResult(ClientLeave Leave, WebSocketCloseStatus Status = default, string Description = "");

/// <summary>
/// Watches the client while the gateway dials the browser, which may take the whole dial window when Chromium is
/// restarting. Nothing else reads the client then, so without this a client that gives up would be noticed only when
/// the dial ends, and its connection reported by the dial's outcome instead of its own leaving.
/// </summary>
/// <remarks>
/// The watch takes nothing away from the relay: what it reads stays in the leg as unread bytes (the client may send
/// its first commands before the browser is reached), and a zero-byte read it started when the dial ended is handed to
/// the relay's first read, so the common case (a dial of a millisecond) costs no cancelled read and no buffer.
/// </remarks>
public static class ClientLeaveWatch
{
    /// <summary>A client that sends more than this while the dial lasts is no longer watched (the relay reads it later).</summary>
    public const int MaxBufferedBytes = 1 << 20;

    private const int ReadBytes = 4096;

    /// <summary>Watches until the client leaves or <paramref name="stop"/> completes.</summary>
    public static async Task<ClientLeaveResult> WatchAsync(WebSocketLeg client, Task stop)
    {
        byte[] buffer = client.TakeUnread();
        int filled = buffer.Length;
        int scanned = 0;
        // What the watch reads goes through a pooled array: the leg keeps its own copy of it (PutBack), and a client
        // that sends its first command before the browser answers the dial is the common case, one read per connection.
        bool rented = false;
        try
        {
            while (true)
            {
                if (FindClose(buffer.AsSpan(0, filled), ref scanned) is { } close)
                {
                    return close;
                }
                if (stop.IsCompleted || filled >= MaxBufferedBytes)
                {
                    return default;
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
                        return default;
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
                    return new ClientLeaveResult(ClientLeave.StreamEnded);
                }
                filled += read;
            }
        }
        catch (Exception)
        {
            // Reset or aborted: the client is gone.
            return new ClientLeaveResult(ClientLeave.StreamEnded);
        }
        finally
        {
            client.PutBack(buffer.AsSpan(0, filled));
            if (rented)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// Walks whole frames from <paramref name="scanned"/> (a frame boundary) and returns the close frame's status
    /// once one is complete; stops at the first frame that is not all there yet.
    /// </summary>
    internal static ClientLeaveResult? FindClose(ReadOnlySpan<byte> frames, ref int scanned)
    {
        while (FrameHeader.TryRead(frames[scanned..], out var header))
        {
            long end = scanned + header.Length + header.PayloadLength;
            if (end > frames.Length)
            {
                return null;
            }
            if (header.Opcode == FrameOpcode.Close)
            {
                // Read from a copy: reading unmasks in place, and the relay must still see the bytes as sent.
                Span<byte> frame = stackalloc byte[FrameHeader.MaxLength + FrameHeader.MaxControlPayload];
                if (end - scanned > frame.Length)
                {
                    return new ClientLeaveResult(ClientLeave.CloseFrame, WebSocketCloseStatus.ProtocolError, CloseCodes.ProtocolErrorText + "invalid close frame");
                }
                frame = frame[..(int)(end - scanned)];
                frames[scanned..(int)end].CopyTo(frame);
                return CloseFrame.TryRead(frame, out var status, out var description)
                    ? new ClientLeaveResult(ClientLeave.CloseFrame, status, description)
                    : new ClientLeaveResult(ClientLeave.CloseFrame, WebSocketCloseStatus.ProtocolError, CloseCodes.ProtocolErrorText + "invalid close frame");
            }
            scanned = (int)end;
        }
        return null;
    }
}
