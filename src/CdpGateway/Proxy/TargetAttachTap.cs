using System.Buffers;

namespace CdpGateway.Proxy;

/// <summary>
/// Watches what Chromium sends one client (the browser-to-client direction, only with <c>--live-view</c>) for the
/// events that begin and end its flattened sessions, and keeps <see cref="AttachedSessions"/> up to date: which target
/// each <c>sessionId</c> the client may use belongs to. Every other message is turned away by its first bytes
/// (<see cref="TargetAttachMessage.Recognise"/>); the few accepted ones are copied, at most
/// <see cref="CaptureBytes"/> of each, into a buffer rented for that message and read once forwarded.
/// </summary>
/// <remarks>
/// Only the relay thread of its direction calls it. A session is mapped once the event has been written to the client,
/// so before the client can send anything on it.
/// </remarks>
public sealed class TargetAttachTap(AttachedSessions sessions) : IMessageTap
{
    /// <summary>
    /// Bytes kept of an accepted message: the ids come before the target's title and URL, which can be as long as a
    /// <c>data:</c> URL.
    /// </summary>
    public const int CaptureBytes = 4096;

    private byte[]? _capture;
    private int _length;
    private bool _cut;

    public bool WantsMessages => true;

    public bool Begin(ReadOnlySpan<byte> firstChunk, bool endOfMessage)
    {
        if (TargetAttachMessage.Recognise(firstChunk, endOfMessage) == TargetAttachMessage.Kind.Other)
        {
            return false;
        }
        _capture ??= ArrayPool<byte>.Shared.Rent(CaptureBytes);
        _length = 0;
        _cut = false;
        Append(firstChunk);
        return true;
    }

    public void Append(ReadOnlySpan<byte> chunk)
    {
        if (_capture is null)
        {
            return;
        }
        var room = CaptureBytes - _length;
        if (chunk.Length > room)
        {
            _cut = true;
            chunk = chunk[..room];
        }
        chunk.CopyTo(_capture.AsSpan(_length));
        _length += chunk.Length;
    }

    public void Forwarded(long timestamp)
    {
        if (_capture is null)
        {
            return;
        }
        if (TargetAttachMessage.TryRead(_capture.AsSpan(0, _length), complete: !_cut, out var kind, out var sessionId, out var targetId))
        {
            if (kind == TargetAttachMessage.Kind.Attached)
            {
                sessions.Attach(sessionId!, targetId!);
            }
            else
            {
                sessions.Detach(sessionId!);
            }
        }
        Release();
    }

    public void Abandon() => Release();

    private void Release()
    {
        if (_capture is { } capture)
        {
            _capture = null;
            ArrayPool<byte>.Shared.Return(capture);
        }
    }
}
