using System.Buffers;
using System.Text.Json;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;

namespace CdpGateway.Api.LiveView;

/// <summary>
/// The clients' input for the live view's overlay, taken from the <c>cdp_command</c> events the telemetry stream
/// already carries (a reader of its ring, like any stream reader: the commands need nothing more from the relay; which
/// target a command's session drives comes from <see cref="Proxy.TargetAttachTap"/>). Each input command
/// becomes a small mark: where (x, y), what (kind, event type, button, click count, scroll deltas), and for keys and
/// text only a count. The events hold no typed text to begin with (only <c>text_length</c>), and a mark copies only
/// the fields named here.
/// </summary>
public static class InputOverlay
{
    /// <summary>Reads new events until cancelled, handing each input mark with its connection and session id to <paramref name="deliver"/>.</summary>
    public static async Task RunAsync(EventStream events, Action<string, string?, byte[]> deliver, CancellationToken cancellationToken)
    {
        var reader = events.CreateReader(events.Seq);
        try
        {
            while (true)
            {
                var batch = await reader.ReadAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                foreach (var envelope in batch.Events)
                {
                    if (envelope.Type == CdpCommandEvents.Type && TryMark(envelope.Utf8Json.Span, out var connectionId, out var sessionId, out var mark))
                    {
                        deliver(connectionId, sessionId, mark);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The mark for one <c>cdp_command</c> envelope, if it is an input command: its connection, its session id (null
    /// when the command named none) and the mark's JSON.
    /// </summary>
    public static bool TryMark(ReadOnlySpan<byte> envelope, out string connectionId, out string? sessionId, out byte[] mark)
    {
        connectionId = "";
        sessionId = null;
        mark = [];
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(envelope.ToArray());
        }
        catch (JsonException)
        {
            return false;
        }
        using (document)
        {
            if (!document.RootElement.TryGetProperty("event", out var e) || !e.TryGetProperty("data", out var data)
                || data.ValueKind != JsonValueKind.Object || !data.TryGetProperty("method", out var methodValue)
                || !data.TryGetProperty("connection_id", out var connection))
            {
                return false;
            }
            var method = methodValue.GetString();
            var shape = method is null ? null : ShapeOf(method);
            if (shape is null)
            {
                return false;
            }
            connectionId = connection.GetString() ?? "";
            sessionId = data.TryGetProperty("session_id", out var session) ? session.GetString() : null;
            var output = new ArrayBufferWriter<byte>(160);
            using (var writer = new Utf8JsonWriter(output))
            {
                writer.WriteStartObject();
                writer.WriteString("type", "input");
                writer.WriteString("kind", shape.Kind);
                writer.WriteString("connection_id", connectionId);
                foreach (var (from, to) in shape.Fields)
                {
                    if (!data.TryGetProperty(from, out var value))
                    {
                        continue;
                    }
                    if (value.ValueKind == JsonValueKind.Number)
                    {
                        writer.WriteNumber(to, value.GetDouble());
                    }
                    else if (value.ValueKind == JsonValueKind.String && from is "event_type" or "button")
                    {
                        // Protocol enums as the classifier reduced them (anything else is "other"), never free text.
                        writer.WriteString(to, value.GetString());
                    }
                }
                if (shape.OneKey)
                {
                    writer.WriteNumber("count", 1);
                }
                writer.WriteEndObject();
            }
            mark = output.WrittenSpan.ToArray();
            return true;
        }
    }

    /// <summary>Which event fields a method's mark carries, and as what.</summary>
    private sealed record Shape(string Kind, (string From, string To)[] Fields, bool OneKey = false);

    private static readonly (string, string)[] Pointer =
        [("event_type", "event_type"), ("x", "x"), ("y", "y"), ("button", "button"), ("click_count", "click_count"), ("delta_x", "delta_x"), ("delta_y", "delta_y")];

    private static Shape? ShapeOf(string method) => method switch
    {
        "Input.dispatchMouseEvent" or "Input.emulateTouchFromMouseEvent" => new("mouse", Pointer),
        "Input.dispatchTouchEvent" => new("touch", [("event_type", "event_type"), ("x", "x"), ("y", "y"), ("touch_point_count", "count")]),
        "Input.synthesizeTapGesture" => new("tap", [("x", "x"), ("y", "y"), ("tap_count", "count")]),
        "Input.synthesizeScrollGesture" => new("scroll", [("x", "x"), ("y", "y"), ("x_distance", "delta_x"), ("y_distance", "delta_y")]),
        "Input.synthesizePinchGesture" => new("pinch", [("x", "x"), ("y", "y"), ("scale_factor", "scale")]),
        "Input.dispatchDragEvent" => new("drag", [("event_type", "event_type"), ("x", "x"), ("y", "y")]),
        // Keys and text as counts: a key event is one, inserted or composed text its length; never which keys.
        "Input.dispatchKeyEvent" => new("key", [("event_type", "event_type")], OneKey: true),
        "Input.insertText" or "Input.imeSetComposition" => new("text", [("text_length", "count")]),
        _ => null,
    };
}
