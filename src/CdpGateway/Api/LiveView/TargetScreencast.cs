using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;

namespace CdpGateway.Api.LiveView;

/// <summary>
/// One page's screencast and everyone watching it: the CDP session the gateway attached to the page, and its viewers.
/// Each frame is encoded once for all of them (see <see cref="FrameMessage"/>); a viewer that falls behind skips
/// frames on its own (<see cref="LiveViewer"/>).
/// </summary>
public sealed class TargetScreencast(string targetId, string sessionId)
{
    private readonly Lock _gate = new();
    private readonly List<LiveViewer> _viewers = [];
    private long _frames;
    private bool _ended;
    // The newest frame, for a viewer who joins between frames (Chromium sends one only when the page changes).
    private byte[]? _lastFrame;

    public string TargetId { get; } = targetId;

    /// <summary>The gateway's own flattened CDP session on the page.</summary>
    public string SessionId { get; } = sessionId;

    public long FramesReceived => Interlocked.Read(ref _frames);

    public int ViewerCount
    {
        get
        {
            lock (_gate)
            {
                return _viewers.Count;
            }
        }
    }

    /// <summary>Adds a viewer; false once the screencast ended (the caller starts a new one).</summary>
    public bool Add(LiveViewer viewer)
    {
        lock (_gate)
        {
            if (_ended)
            {
                return false;
            }
            _viewers.Add(viewer);
            if (_lastFrame is { } frame)
            {
                viewer.OfferFrame(new ViewerMessage(true, frame));
            }
            return true;
        }
    }

    /// <summary>Removes a viewer; returns how many remain.</summary>
    public int Remove(LiveViewer viewer)
    {
        lock (_gate)
        {
            _viewers.Remove(viewer);
            return _viewers.Count;
        }
    }

    /// <summary>A <c>Page.screencastFrame</c>'s params: one binary message for every viewer.</summary>
    public void OnFrame(JsonElement parameters)
    {
        var message = FrameMessage(parameters, Interlocked.Increment(ref _frames));
        if (message is null)
        {
            return;
        }
        LiveViewer[] viewers;
        lock (_gate)
        {
            _lastFrame = message;
            viewers = [.. _viewers];
        }
        foreach (var viewer in viewers)
        {
            viewer.OfferFrame(new ViewerMessage(true, message));
        }
    }

    /// <summary>An input mark (JSON text) for every viewer.</summary>
    public void OnInput(byte[] mark)
    {
        foreach (var viewer in Snapshot())
        {
            viewer.OfferInput(new ViewerMessage(false, mark));
        }
    }

    /// <summary>Ends every viewer's stream with <paramref name="reason"/>; no viewer joins it afterwards.</summary>
    public void End(string reason)
    {
        LiveViewer[] viewers;
        lock (_gate)
        {
            _ended = true;
            viewers = [.. _viewers];
            _viewers.Clear();
        }
        foreach (var viewer in viewers)
        {
            viewer.End(reason);
        }
    }

    private LiveViewer[] Snapshot()
    {
        lock (_gate)
        {
            return [.. _viewers];
        }
    }

    /// <summary>
    /// A frame as the viewer's WebSocket carries it, one binary message: a 4-byte big-endian length, that many bytes of
    /// JSON metadata (<c>frame</c>, <c>device_width</c>, <c>device_height</c>, <c>offset_top</c>,
    /// <c>page_scale_factor</c>, <c>scroll_offset_x</c>, <c>scroll_offset_y</c>), then the JPEG image. Null when
    /// Chromium's params are not a frame.
    /// </summary>
    internal static byte[]? FrameMessage(JsonElement parameters, long number)
    {
        if (parameters.ValueKind != JsonValueKind.Object || !parameters.TryGetProperty("data", out var data)
            || LiveViewSession.DecodeBase64(data) is not { } jpeg)
        {
            return null;
        }
        var header = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(header))
        {
            writer.WriteStartObject();
            writer.WriteNumber("frame", number);
            if (parameters.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object)
            {
                foreach (var (from, to) in MetadataFields)
                {
                    if (metadata.TryGetProperty(from, out var value) && value.ValueKind == JsonValueKind.Number)
                    {
                        writer.WriteNumber(to, value.GetDouble());
                    }
                }
            }
            writer.WriteEndObject();
        }
        var message = new byte[4 + header.WrittenCount + jpeg.Length];
        BinaryPrimitives.WriteInt32BigEndian(message, header.WrittenCount);
        header.WrittenSpan.CopyTo(message.AsSpan(4));
        jpeg.CopyTo(message.AsSpan(4 + header.WrittenCount));
        return message;
    }

    private static readonly (string From, string To)[] MetadataFields =
    [
        ("deviceWidth", "device_width"),
        ("deviceHeight", "device_height"),
        ("offsetTop", "offset_top"),
        ("pageScaleFactor", "page_scale_factor"),
        ("scrollOffsetX", "scroll_offset_x"),
        ("scrollOffsetY", "scroll_offset_y"),
    ];
}
