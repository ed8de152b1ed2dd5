using System.Collections.Frozen;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// The browser-control commands that are reported as <c>cdp_command</c> events: input gestures, navigation, dialogs,
/// file inputs, target and window control, screenshots and PDF. Everything else a client sends (Runtime.*,
/// Emulation.*, DOM queries, ...) is library traffic and is not reported. <see cref="CdpMethods.Name"/> gives the
/// wire name.
/// </summary>
public enum CdpMethod
{
    InputDispatchMouseEvent,
    InputDispatchKeyEvent,
    InputInsertText,
    InputImeSetComposition,
    InputDispatchTouchEvent,
    InputDispatchDragEvent,
    InputCancelDragging,
    InputEmulateTouchFromMouseEvent,
    InputSynthesizePinchGesture,
    InputSynthesizeScrollGesture,
    InputSynthesizeTapGesture,

    DomSetFileInputFiles,
    DomFocus,
    DomScrollIntoViewIfNeeded,

    PageNavigate,
    PageNavigateToHistoryEntry,
    PageReload,
    PageBringToFront,
    PageClose,
    PageStopLoading,
    PageHandleJavaScriptDialog,
    PageCaptureScreenshot,
    PageCaptureSnapshot,
    PagePrintToPdf,
    PageStartScreencast,
    PageStopScreencast,
    PageSetWebLifecycleState,

    TargetCreateTarget,
    TargetCloseTarget,
    TargetActivateTarget,
    TargetCreateBrowserContext,
    TargetDisposeBrowserContext,

    BrowserClose,
    BrowserSetWindowBounds,
    BrowserCancelDownload,
}

/// <summary>Wire names of <see cref="CdpMethod"/> and the lookup from a wire name.</summary>
public static class CdpMethods
{
    /// <summary>The longest wire name, in UTF-16 code units (every name is ASCII).</summary>
    internal const int MaxNameLength = 40;

    // Indexed by the enum's value; a test checks that every member has exactly one, distinct name.
    private static readonly string[] Names =
    [
        "Input.dispatchMouseEvent",
        "Input.dispatchKeyEvent",
        "Input.insertText",
        "Input.imeSetComposition",
        "Input.dispatchTouchEvent",
        "Input.dispatchDragEvent",
        "Input.cancelDragging",
        "Input.emulateTouchFromMouseEvent",
        "Input.synthesizePinchGesture",
        "Input.synthesizeScrollGesture",
        "Input.synthesizeTapGesture",

        "DOM.setFileInputFiles",
        "DOM.focus",
        "DOM.scrollIntoViewIfNeeded",

        "Page.navigate",
        "Page.navigateToHistoryEntry",
        "Page.reload",
        "Page.bringToFront",
        "Page.close",
        "Page.stopLoading",
        "Page.handleJavaScriptDialog",
        "Page.captureScreenshot",
        "Page.captureSnapshot",
        "Page.printToPDF",
        "Page.startScreencast",
        "Page.stopScreencast",
        "Page.setWebLifecycleState",

        "Target.createTarget",
        "Target.closeTarget",
        "Target.activateTarget",
        "Target.createBrowserContext",
        "Target.disposeBrowserContext",

        "Browser.close",
        "Browser.setWindowBounds",
        "Browser.cancelDownload",
    ];

    private static readonly System.Text.Json.JsonEncodedText[] EncodedNames =
        Array.ConvertAll(Names, static n => System.Text.Json.JsonEncodedText.Encode(n));

    private static readonly FrozenDictionary<string, CdpMethod> ByName =
        Enumerable.Range(0, Names.Length).ToFrozenDictionary(i => Names[i], i => (CdpMethod)i, StringComparer.Ordinal);

    private static readonly FrozenDictionary<string, CdpMethod>.AlternateLookup<ReadOnlySpan<char>> BySpan =
        ByName.GetAlternateLookup<ReadOnlySpan<char>>();

    private static readonly byte[][] Utf8Names = Array.ConvertAll(Names, static n => System.Text.Encoding.UTF8.GetBytes(n));

    // The methods whose wire name has a given UTF-8 length: a library method of another length is turned away at once.
    private static readonly CdpMethod[][] ByUtf8Length = Enumerable.Range(0, MaxNameLength + 1)
        .Select(length => Enumerable.Range(0, Names.Length).Where(i => Utf8Names[i].Length == length).Select(i => (CdpMethod)i).ToArray())
        .ToArray();

    /// <summary>Every reported method, in declaration order.</summary>
    public static IReadOnlyList<CdpMethod> All { get; } = Enum.GetValues<CdpMethod>();

    /// <summary>Every reported method's wire name, in declaration order.</summary>
    public static IReadOnlyList<string> AllNames { get; } = Array.AsReadOnly(Names);

    /// <summary>The wire name, e.g. <c>Input.dispatchMouseEvent</c>.</summary>
    public static string Name(this CdpMethod method) => Names[(int)method];

    /// <summary>The wire name, encoded once for a JSON writer.</summary>
    internal static System.Text.Json.JsonEncodedText EncodedName(this CdpMethod method) => EncodedNames[(int)method];

    /// <summary>The reported method with this exact (case-sensitive) wire name.</summary>
    public static bool TryParse(string name, out CdpMethod method) => ByName.TryGetValue(name, out method);

    /// <inheritdoc cref="TryParse(string, out CdpMethod)"/>
    public static bool TryParse(ReadOnlySpan<char> name, out CdpMethod method) => BySpan.TryGetValue(name, out method);

    /// <summary>The reported method whose wire name is exactly these UTF-8 bytes (no JSON escapes in them).</summary>
    internal static bool TryParseUtf8(ReadOnlySpan<byte> name, out CdpMethod method)
    {
        if (name.Length <= MaxNameLength)
        {
            foreach (CdpMethod candidate in ByUtf8Length[name.Length])
            {
                if (name.SequenceEqual(Utf8Names[(int)candidate]))
                {
                    method = candidate;
                    return true;
                }
            }
        }
        method = default;
        return false;
    }
}
