using System.Text;
using System.Text.Json;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// A closed set of values a client-controlled string may be reported as. Matching is ordinal (CDP enums are
/// case-sensitive); anything else, including an empty string, reports as <see cref="CdpVocabulary.Other"/>, so the
/// reported value is always one of ours, never the client's text.
/// </summary>
public sealed class CdpEnumSet
{
    private static readonly JsonEncodedText EncodedOther = JsonEncodedText.Encode(CdpVocabulary.Other);

    private readonly string[] _values;
    private readonly byte[][] _utf8;
    private readonly JsonEncodedText[] _encoded;
    private readonly int _maxLength;

    public CdpEnumSet(string name, params string[] values)
    {
        Name = name;
        _values = values;
        _utf8 = [.. values.Select(Encoding.UTF8.GetBytes)];
        _encoded = [.. values.Select(v => JsonEncodedText.Encode(v))];
        _maxLength = values.Max(v => v.Length);
    }

    /// <summary>The protocol type's name, e.g. <c>MouseButton</c>.</summary>
    public string Name { get; }

    /// <summary>The accepted values, without the <c>other</c> fallback.</summary>
    public IReadOnlyList<string> Values => _values;

    /// <summary>The canonical value equal to <paramref name="value"/>, or null.</summary>
    public string? Find(ReadOnlySpan<char> value)
    {
        int index = value.Length > _maxLength ? -1 : IndexOf(value);
        return index >= 0 ? _values[index] : null;
    }

    /// <summary>
    /// Like <see cref="Find"/> on the content of a JSON string (escapes in place), as the value ready to write:
    /// <paramref name="found"/> is false when nothing matched.
    /// </summary>
    internal JsonEncodedText FindJson(ReadOnlySpan<byte> content, out bool found)
    {
        int index = IndexOfJson(content);
        found = index >= 0;
        return found ? _encoded[index] : EncodedOther;
    }

    /// <summary><see cref="FindJson(ReadOnlySpan{byte}, out bool)"/> with <c>other</c> for no match.</summary>
    internal JsonEncodedText FindJsonOrOther(ReadOnlySpan<byte> content) => FindJson(content, out _);

    private int IndexOfJson(ReadOnlySpan<byte> content)
    {
        if (!content.Contains((byte)'\\'))
        {
            // The usual case: an escape-free JSON string's content is its own UTF-8, compared without decoding.
            for (int i = 0; i < _utf8.Length; i++)
            {
                if (content.SequenceEqual(_utf8[i]))
                {
                    return i;
                }
            }
            return -1;
        }
        Span<char> buffer = stackalloc char[_maxLength];
        return JsonStringText.TryDecodeShort(content, buffer, out int written) ? IndexOf(buffer[..written]) : -1;
    }

    private int IndexOf(ReadOnlySpan<char> value)
    {
        for (int i = 0; i < _values.Length; i++)
        {
            if (value.SequenceEqual(_values[i]))
            {
                return i;
            }
        }
        return -1;
    }
}

/// <summary>The enum sets, allowlists and categories the <c>cdp_command</c> payload reports values from.</summary>
public static class CdpVocabulary
{
    /// <summary>What an unknown or empty enum value is reported as.</summary>
    public const string Other = "other";

    // Pinned to the devtools-protocol definitions of each argument; each reports `other` when unmatched (docs/events.md).
    public static readonly CdpEnumSet MouseEventType = new("MouseEventType", "mousePressed", "mouseReleased", "mouseMoved", "mouseWheel");
    public static readonly CdpEnumSet KeyEventType = new("KeyEventType", "keyDown", "keyUp", "rawKeyDown", "char");
    public static readonly CdpEnumSet TouchEventType = new("TouchEventType", "touchStart", "touchEnd", "touchMove", "touchCancel");
    public static readonly CdpEnumSet DragEventType = new("DragEventType", "dragEnter", "dragOver", "drop", "dragCancel");
    public static readonly CdpEnumSet MouseButton = new("MouseButton", "none", "left", "middle", "right", "back", "forward");
    public static readonly CdpEnumSet PointerType = new("PointerType", "mouse", "pen");
    public static readonly CdpEnumSet GestureSourceType = new("GestureSourceType", "default", "touch", "mouse");
    public static readonly CdpEnumSet ScreenshotFormat = new("ScreenshotFormat", "jpeg", "png", "webp");
    public static readonly CdpEnumSet SnapshotFormat = new("SnapshotFormat", "mhtml");
    public static readonly CdpEnumSet ScreencastFormat = new("ScreencastFormat", "jpeg", "png");
    public static readonly CdpEnumSet WebLifecycleState = new("WebLifecycleState", "frozen", "active");
    public static readonly CdpEnumSet PdfTransferMode = new("PdfTransferMode", "ReturnAsBase64", "ReturnAsStream");
    public static readonly CdpEnumSet WindowState = new("WindowState", "normal", "minimized", "maximized", "fullscreen");
    public static readonly CdpEnumSet TransitionType = new("TransitionType",
        "link", "typed", "address_bar", "auto_bookmark", "auto_subframe", "manual_subframe", "generated",
        "auto_toplevel", "form_submit", "reload", "keyword", "keyword_generated");
    public static readonly CdpEnumSet ReferrerPolicy = new("ReferrerPolicy",
        "noReferrer", "noReferrerWhenDowngrade", "origin", "originWhenCrossOrigin", "sameOrigin", "strictOrigin",
        "strictOriginWhenCrossOrigin", "unsafeUrl");

    /// <summary>
    /// The <c>key</c> values of <c>Input.dispatchKeyEvent</c> that are reported by name (<c>named_key</c>): editing,
    /// navigation, modifier, lock and function keys. A printable key is typed text and is never named.
    /// </summary>
    public static readonly CdpEnumSet NamedKeys = new("NamedKey",
        "Enter", "Tab", "Escape", "Backspace", "Delete", "Insert", "Home", "End", "PageUp", "PageDown",
        "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Shift", "Control", "Alt", "Meta", "CapsLock",
        "NumLock", "ScrollLock", "ContextMenu", "Pause", "PrintScreen",
        "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12");

    /// <summary>
    /// Top-level MIME types a drag item's <c>mimeType</c> is reduced to (<c>drag_mime_categories</c>); any other
    /// type, a subtype-only or a missing one reports as <c>other</c>.
    /// </summary>
    public static readonly CdpEnumSet MimeCategories = new("MimeCategory",
        "application", "audio", "font", "image", "message", "model", "multipart", "text", "video");

    /// <summary>
    /// URL schemes reported by name (<c>url_scheme</c>). Any other syntactically valid scheme of an absolute URL
    /// reports as <c>other</c>: a custom scheme is the client's text (an app name, sometimes a token), so only
    /// well-known ones are named.
    /// </summary>
    public static readonly CdpEnumSet UrlSchemes = new("UrlScheme",
        "about", "blob", "chrome", "chrome-extension", "chrome-untrusted", "data", "devtools", "file", "filesystem",
        "ftp", "http", "https", "javascript", "mailto", "sms", "tel", "view-source", "ws", "wss");

    /// <summary>The bound on an opaque identifier (session, target, frame, node object, context, download ids).</summary>
    public const int MaxOpaqueIdBytes = 128;

    /// <summary>The bound on a reported URL scheme.</summary>
    public const int MaxSchemeLength = 32;

    /// <summary>
    /// The scheme of an absolute URL, lower-cased and reported from <see cref="UrlSchemes"/> (else <c>other</c>);
    /// null for a relative URL or one without a scheme. Follows the URL standard's scheme state: leading C0 controls
    /// and spaces are trimmed, tabs and newlines are ignored, a scheme is an ASCII letter followed by letters, digits,
    /// <c>+ - .</c>, ended by <c>:</c>. Only the characters up to the colon are ever looked at.
    /// </summary>
    internal static string? UrlScheme(ReadOnlySpan<byte> content)
    {
        Span<char> scheme = stackalloc char[MaxSchemeLength];
        int length = 0;
        bool started = false;
        bool overflow = false;
        var chars = new JsonStringChars(content);
        while (chars.TryRead(out char c))
        {
            if (c is '\t' or '\n' or '\r')
            {
                continue;
            }
            if (!started)
            {
                if (c <= ' ')
                {
                    continue;
                }
                if (!char.IsAsciiLetter(c))
                {
                    return null;
                }
                started = true;
            }
            else if (c == ':')
            {
                if (overflow)
                {
                    return Other;
                }
                return UrlSchemes.Find(scheme[..length]) ?? Other;
            }
            else if (!(char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
            {
                return null;
            }

            if (length < scheme.Length)
            {
                scheme[length++] = char.ToLowerInvariant(c);
            }
            else
            {
                overflow = true;
            }
        }
        return null;
    }

    /// <summary>The top-level type of a MIME type (<c>image/png</c> → <c>image</c>), else <c>other</c>.</summary>
    internal static string MimeCategory(ReadOnlySpan<byte> content)
    {
        Span<char> type = stackalloc char[16];
        int length = 0;
        bool started = false;
        var chars = new JsonStringChars(content);
        while (chars.TryRead(out char c))
        {
            if (!started && c is ' ' or '\t')
            {
                continue;
            }
            started = true;
            if (c == '/')
            {
                return MimeCategories.Find(type[..length]) ?? Other;
            }
            if (length == type.Length)
            {
                return Other;
            }
            type[length++] = char.ToLowerInvariant(c);
        }
        return Other;
    }
}
