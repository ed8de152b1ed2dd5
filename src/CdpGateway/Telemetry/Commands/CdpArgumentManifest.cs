using System.Collections.Frozen;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Every argument of every reported method (devtools-protocol tip-of-tree) with its decision: retained as a payload
/// field (and how it is reduced) or redacted (and why). This table is the sanitizer: the payload of a method is
/// exactly its retained arguments, in this order, so the recorded decisions and what is reported cannot drift apart.
/// Arguments a client sends that are not listed here are ignored.
/// </summary>
public static class CdpArgumentManifest
{
    private const string Timing = "client clock; the event carries the time of the forward";
    private const string Text = "typed or pasted text; reported as a length";
    private const string KeyIdentity = "identifies the key typed, so it is text";
    private const string Url = "URL; only its scheme is reported";
    private const string Script = "script source";
    private const string FilePath = "file path; only the count is reported";
    private const string Content = "page or clipboard content";
    private const string Template = "HTML template; only its presence is reported";
    private const string Proxy = "network configuration; only its presence is reported";
    private const string Origins = "origins; only the count is reported";
    private const string Label = "client-chosen label";
    private const string NotShape = "an identifier, not part of the gesture's shape";

    private static readonly FrozenDictionary<CdpMethod, CdpArgument[]> ByMethod = Define()
        .ToFrozenDictionary(d => d.Method, d => d.Arguments.Select(a => a with { Method = d.Method }).ToArray());

    /// <summary>Every method's arguments, method by method in <see cref="CdpMethods.All"/> order.</summary>
    public static IReadOnlyList<CdpArgument> All { get; } = CdpMethods.All.SelectMany(m => ByMethod[m]).ToArray();

    /// <summary>The arguments of one method, in payload order.</summary>
    public static IReadOnlyList<CdpArgument> For(CdpMethod method) => ByMethod[method];

    internal static CdpArgument[] ArgumentsOf(CdpMethod method) => ByMethod[method];

    private static IEnumerable<(CdpMethod Method, CdpArgument[] Arguments)> Define()
    {
        yield return (CdpMethod.InputDispatchMouseEvent,
        [
            Enum("type", "event_type", CdpVocabulary.MouseEventType),
            Num("x", "x"),
            Num("y", "y"),
            Int("modifiers", "modifiers"),
            Redact("timestamp", CdpArgumentKind.Number, Timing),
            Enum("button", "button", CdpVocabulary.MouseButton),
            Int("buttons", "buttons"),
            Int("clickCount", "click_count"),
            Num("force", "force"),
            Num("tangentialPressure", "tangential_pressure"),
            Num("tiltX", "tilt_x"),
            Num("tiltY", "tilt_y"),
            Int("twist", "twist"),
            Num("deltaX", "delta_x"),
            Num("deltaY", "delta_y"),
            Enum("pointerType", "pointer_type", CdpVocabulary.PointerType),
        ]);
        yield return (CdpMethod.InputDispatchKeyEvent,
        [
            Enum("type", "event_type", CdpVocabulary.KeyEventType),
            Int("modifiers", "modifiers"),
            Redact("timestamp", CdpArgumentKind.Number, Timing),
            Length("text", "text_length"),
            Redact("unmodifiedText", CdpArgumentKind.String, Text),
            Redact("keyIdentifier", CdpArgumentKind.String, KeyIdentity),
            Redact("code", CdpArgumentKind.String, KeyIdentity),
            Key("key", "named_key"),
            Redact("windowsVirtualKeyCode", CdpArgumentKind.Integer, KeyIdentity),
            Redact("nativeVirtualKeyCode", CdpArgumentKind.Integer, KeyIdentity),
            Bool("autoRepeat", "auto_repeat"),
            Bool("isKeypad", "is_keypad"),
            Bool("isSystemKey", "is_system_key"),
            Int("location", "location"),
            Count("commands", CdpArgumentKind.StringArray, "command_count"),
        ]);
        yield return (CdpMethod.InputInsertText,
        [
            Length("text", "text_length"),
        ]);
        yield return (CdpMethod.InputImeSetComposition,
        [
            Length("text", "text_length"),
            Int("selectionStart", "selection_start"),
            Int("selectionEnd", "selection_end"),
            Int("replacementStart", "replacement_start"),
            Int("replacementEnd", "replacement_end"),
        ]);
        yield return (CdpMethod.InputDispatchTouchEvent,
        [
            Enum("type", "event_type", CdpVocabulary.TouchEventType),
            Count("touchPoints", CdpArgumentKind.ObjectArray, "touch_point_count"),
            Num("touchPoints[0].x", "x"),
            Num("touchPoints[0].y", "y"),
            Num("touchPoints[0].radiusX", "radius_x"),
            Num("touchPoints[0].radiusY", "radius_y"),
            Num("touchPoints[0].rotationAngle", "rotation_angle"),
            Num("touchPoints[0].force", "force"),
            Num("touchPoints[0].tangentialPressure", "tangential_pressure"),
            Num("touchPoints[0].tiltX", "tilt_x"),
            Num("touchPoints[0].tiltY", "tilt_y"),
            Int("touchPoints[0].twist", "twist"),
            Redact("touchPoints[0].id", CdpArgumentKind.Number, NotShape),
            Int("modifiers", "modifiers"),
            Redact("timestamp", CdpArgumentKind.Number, Timing),
        ]);
        yield return (CdpMethod.InputDispatchDragEvent,
        [
            Enum("type", "event_type", CdpVocabulary.DragEventType),
            Num("x", "x"),
            Num("y", "y"),
            Int("modifiers", "modifiers"),
            Count("data.items", CdpArgumentKind.ObjectArray, "drag_item_count"),
            Count("data.files", CdpArgumentKind.StringArray, "drag_file_count"),
            Mime("data.items[].mimeType", "drag_mime_categories"),
            Redact("data.items[].data", CdpArgumentKind.String, Content),
            Redact("data.items[].title", CdpArgumentKind.String, Content),
            Redact("data.items[].baseURL", CdpArgumentKind.String, Url),
            Int("data.dragOperationsMask", "drag_operations_mask"),
        ]);
        yield return (CdpMethod.InputCancelDragging, []);
        yield return (CdpMethod.InputEmulateTouchFromMouseEvent,
        [
            Enum("type", "event_type", CdpVocabulary.MouseEventType),
            Int("x", "x"),
            Int("y", "y"),
            Enum("button", "button", CdpVocabulary.MouseButton),
            Redact("timestamp", CdpArgumentKind.Number, Timing),
            Num("deltaX", "delta_x"),
            Num("deltaY", "delta_y"),
            Int("modifiers", "modifiers"),
            Int("clickCount", "click_count"),
        ]);
        yield return (CdpMethod.InputSynthesizePinchGesture,
        [
            Num("x", "x"),
            Num("y", "y"),
            Num("scaleFactor", "scale_factor"),
            Int("relativeSpeed", "relative_speed"),
            Enum("gestureSourceType", "gesture_source_type", CdpVocabulary.GestureSourceType),
        ]);
        yield return (CdpMethod.InputSynthesizeScrollGesture,
        [
            Num("x", "x"),
            Num("y", "y"),
            Num("xDistance", "x_distance"),
            Num("yDistance", "y_distance"),
            Num("xOverscroll", "x_overscroll"),
            Num("yOverscroll", "y_overscroll"),
            Bool("preventFling", "prevent_fling"),
            Int("speed", "speed"),
            Enum("gestureSourceType", "gesture_source_type", CdpVocabulary.GestureSourceType),
            Int("repeatCount", "repeat_count"),
            Int("repeatDelayMs", "repeat_delay_ms"),
            Redact("interactionMarkerName", CdpArgumentKind.String, Label),
        ]);
        yield return (CdpMethod.InputSynthesizeTapGesture,
        [
            Num("x", "x"),
            Num("y", "y"),
            Int("duration", "duration"),
            Int("tapCount", "tap_count"),
            Enum("gestureSourceType", "gesture_source_type", CdpVocabulary.GestureSourceType),
        ]);

        yield return (CdpMethod.DomSetFileInputFiles,
        [
            Count("files", CdpArgumentKind.StringArray, "file_count"),
            Int("nodeId", "node_id"),
            Int("backendNodeId", "backend_node_id"),
            Id("objectId", "object_id"),
        ]);
        yield return (CdpMethod.DomFocus,
        [
            Int("nodeId", "node_id"),
            Int("backendNodeId", "backend_node_id"),
            Id("objectId", "object_id"),
        ]);
        yield return (CdpMethod.DomScrollIntoViewIfNeeded,
        [
            Int("nodeId", "node_id"),
            Int("backendNodeId", "backend_node_id"),
            Id("objectId", "object_id"),
            Num("rect.x", "rect_x"),
            Num("rect.y", "rect_y"),
            Num("rect.width", "rect_width"),
            Num("rect.height", "rect_height"),
        ]);

        yield return (CdpMethod.PageNavigate,
        [
            Scheme("url", "url_scheme"),
            Present("referrer", "referrer_present"),
            Enum("transitionType", "transition_type", CdpVocabulary.TransitionType),
            Id("frameId", "frame_id"),
            Enum("referrerPolicy", "referrer_policy", CdpVocabulary.ReferrerPolicy),
        ]);
        yield return (CdpMethod.PageNavigateToHistoryEntry,
        [
            Int("entryId", "entry_id"),
        ]);
        yield return (CdpMethod.PageReload,
        [
            Bool("ignoreCache", "ignore_cache"),
            Length("scriptToEvaluateOnLoad", "script_length"),
            Id("loaderId", "loader_id"),
        ]);
        yield return (CdpMethod.PageBringToFront, []);
        yield return (CdpMethod.PageClose, []);
        yield return (CdpMethod.PageStopLoading, []);
        yield return (CdpMethod.PageHandleJavaScriptDialog,
        [
            Bool("accept", "accept"),
            Length("promptText", "prompt_text_length"),
        ]);
        yield return (CdpMethod.PageCaptureScreenshot,
        [
            Enum("format", "format", CdpVocabulary.ScreenshotFormat),
            Int("quality", "quality"),
            Num("clip.x", "clip_x"),
            Num("clip.y", "clip_y"),
            Num("clip.width", "clip_width"),
            Num("clip.height", "clip_height"),
            Num("clip.scale", "clip_scale"),
            Bool("fromSurface", "from_surface"),
            Bool("captureBeyondViewport", "capture_beyond_viewport"),
            Bool("optimizeForSpeed", "optimize_for_speed"),
        ]);
        yield return (CdpMethod.PageCaptureSnapshot,
        [
            Enum("format", "format", CdpVocabulary.SnapshotFormat),
        ]);
        yield return (CdpMethod.PagePrintToPdf,
        [
            Bool("landscape", "landscape"),
            Bool("displayHeaderFooter", "display_header_footer"),
            Bool("printBackground", "print_background"),
            Num("scale", "scale"),
            Num("paperWidth", "paper_width"),
            Num("paperHeight", "paper_height"),
            Num("marginTop", "margin_top"),
            Num("marginBottom", "margin_bottom"),
            Num("marginLeft", "margin_left"),
            Num("marginRight", "margin_right"),
            Present("pageRanges", "page_ranges_present"),
            Present("headerTemplate", "header_template_present"),
            Present("footerTemplate", "footer_template_present"),
            Bool("preferCSSPageSize", "prefer_css_page_size"),
            Enum("transferMode", "transfer_mode", CdpVocabulary.PdfTransferMode),
            Bool("generateTaggedPDF", "generate_tagged_pdf"),
            Bool("generateDocumentOutline", "generate_document_outline"),
        ]);
        yield return (CdpMethod.PageStartScreencast,
        [
            Enum("format", "format", CdpVocabulary.ScreencastFormat),
            Int("quality", "quality"),
            Int("maxWidth", "max_width"),
            Int("maxHeight", "max_height"),
            Int("everyNthFrame", "every_nth_frame"),
        ]);
        yield return (CdpMethod.PageStopScreencast, []);
        yield return (CdpMethod.PageSetWebLifecycleState,
        [
            Enum("state", "state", CdpVocabulary.WebLifecycleState),
        ]);

        yield return (CdpMethod.TargetCreateTarget,
        [
            Scheme("url", "url_scheme"),
            Int("left", "left"),
            Int("top", "top"),
            Int("width", "width"),
            Int("height", "height"),
            Enum("windowState", "window_state", CdpVocabulary.WindowState),
            Id("browserContextId", "browser_context_id"),
            Bool("enableBeginFrameControl", "enable_begin_frame_control"),
            Bool("newWindow", "new_window"),
            Bool("background", "background"),
            Bool("forTab", "for_tab"),
            Bool("hidden", "hidden"),
            Bool("focus", "focus"),
        ]);
        yield return (CdpMethod.TargetCloseTarget,
        [
            Id("targetId", "target_id"),
        ]);
        yield return (CdpMethod.TargetActivateTarget,
        [
            Id("targetId", "target_id"),
        ]);
        yield return (CdpMethod.TargetCreateBrowserContext,
        [
            Bool("disposeOnDetach", "dispose_on_detach"),
            Present("proxyServer", "proxy_server_present"),
            Present("proxyBypassList", "proxy_bypass_list_present"),
            Count("originsWithUniversalNetworkAccess", CdpArgumentKind.StringArray, "universal_network_access_origin_count"),
        ]);
        yield return (CdpMethod.TargetDisposeBrowserContext,
        [
            Id("browserContextId", "browser_context_id"),
        ]);

        yield return (CdpMethod.BrowserClose, []);
        yield return (CdpMethod.BrowserSetWindowBounds,
        [
            Int("windowId", "window_id"),
            Int("bounds.left", "left"),
            Int("bounds.top", "top"),
            Int("bounds.width", "width"),
            Int("bounds.height", "height"),
            Enum("bounds.windowState", "window_state", CdpVocabulary.WindowState),
        ]);
        yield return (CdpMethod.BrowserCancelDownload,
        [
            Id("guid", "download_guid"),
            Id("browserContextId", "browser_context_id"),
        ]);
    }

    private static CdpArgument Num(string path, string field) =>
        new(path, CdpArgumentKind.Number, CdpArgumentTreatment.Number, field);

    private static CdpArgument Int(string path, string field) =>
        new(path, CdpArgumentKind.Integer, CdpArgumentTreatment.Integer, field);

    private static CdpArgument Bool(string path, string field) =>
        new(path, CdpArgumentKind.Boolean, CdpArgumentTreatment.Boolean, field);

    private static CdpArgument Enum(string path, string field, CdpEnumSet values) =>
        new(path, CdpArgumentKind.String, CdpArgumentTreatment.Enum, field, values);

    private static CdpArgument Length(string path, string field) =>
        new(path, CdpArgumentKind.String, CdpArgumentTreatment.Length, field);

    private static CdpArgument Present(string path, string field) =>
        new(path, CdpArgumentKind.String, CdpArgumentTreatment.Presence, field);

    private static CdpArgument Count(string path, CdpArgumentKind kind, string field) =>
        new(path, kind, CdpArgumentTreatment.Count, field);

    private static CdpArgument Id(string path, string field) =>
        new(path, CdpArgumentKind.String, CdpArgumentTreatment.OpaqueId, field);

    private static CdpArgument Scheme(string path, string field) =>
        new(path, CdpArgumentKind.String, CdpArgumentTreatment.UrlScheme, field);

    private static CdpArgument Key(string path, string field) =>
        new(path, CdpArgumentKind.String, CdpArgumentTreatment.NamedKey, field);

    private static CdpArgument Mime(string path, string field) =>
        new(path, CdpArgumentKind.String, CdpArgumentTreatment.MimeCategories, field);

    private static CdpArgument Redact(string path, CdpArgumentKind kind, string reason) =>
        new(path, kind, CdpArgumentTreatment.Redacted, field: null, redactedBecause: reason);
}
