using CdpGateway.Telemetry.Commands;
using static CdpGateway.Tests.Telemetry.Commands.CommandFrames;

namespace CdpGateway.Tests.Telemetry.Commands;

public sealed class CdpCommandClassificationTests
{
    /// <summary>One positive case (at least) per reported method: frame → exact payload.</summary>
    public static TheoryData<string, string, string> Positive => new()
    {
        {
            "click with every argument",
            """{"id":7,"sessionId":"S1","method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":100.5,"y":200,"modifiers":8,"timestamp":1700000000.5,"button":"left","buttons":1,"clickCount":2,"force":0.5,"tangentialPressure":0.25,"tiltX":10,"tiltY":-10,"twist":45,"deltaX":0,"deltaY":0,"pointerType":"pen"}}""",
            """{"method":"Input.dispatchMouseEvent","connection_id":"c1","command_id":7,"session_id":"S1","event_type":"mousePressed","x":100.5,"y":200,"modifiers":8,"button":"left","buttons":1,"click_count":2,"force":0.5,"tangential_pressure":0.25,"tilt_x":10,"tilt_y":-10,"twist":45,"delta_x":0,"delta_y":0,"pointer_type":"pen"}"""
        },
        {
            "mouseMoved with a button held (a drag)",
            """{"id":8,"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2,"buttons":1}}""",
            """{"method":"Input.dispatchMouseEvent","connection_id":"c1","command_id":8,"event_type":"mouseMoved","x":1,"y":2,"buttons":1}"""
        },
        {
            "wheel deltas",
            """{"id":9,"method":"Input.dispatchMouseEvent","params":{"type":"mouseWheel","x":3,"y":4,"deltaX":0,"deltaY":-120.5}}""",
            """{"method":"Input.dispatchMouseEvent","connection_id":"c1","command_id":9,"event_type":"mouseWheel","x":3,"y":4,"delta_x":0,"delta_y":-120.5}"""
        },
        {
            "keyUp Shift is named",
            """{"id":10,"method":"Input.dispatchKeyEvent","params":{"type":"keyUp","modifiers":0,"key":"Shift","code":"ShiftLeft","windowsVirtualKeyCode":16}}""",
            """{"method":"Input.dispatchKeyEvent","connection_id":"c1","command_id":10,"event_type":"keyUp","modifiers":0,"named_key":"Shift"}"""
        },
        {
            "keyDown Enter with every argument",
            """{"id":11,"method":"Input.dispatchKeyEvent","params":{"type":"keyDown","modifiers":2,"timestamp":5,"text":"\r","unmodifiedText":"\r","keyIdentifier":"Enter","code":"Enter","key":"Enter","windowsVirtualKeyCode":13,"nativeVirtualKeyCode":13,"autoRepeat":false,"isKeypad":true,"isSystemKey":false,"location":3,"commands":["insertNewline"]}}""",
            """{"method":"Input.dispatchKeyEvent","connection_id":"c1","command_id":11,"event_type":"keyDown","modifiers":2,"text_length":1,"named_key":"Enter","auto_repeat":false,"is_keypad":true,"is_system_key":false,"location":3,"command_count":1}"""
        },
        {
            "a typed é gives its length and no name",
            """{"id":12,"method":"Input.dispatchKeyEvent","params":{"type":"char","text":"é","unmodifiedText":"é","key":"é"}}""",
            """{"method":"Input.dispatchKeyEvent","connection_id":"c1","command_id":12,"event_type":"char","text_length":1}"""
        },
        {
            "insertText counts UTF-16 code units",
            """{"id":13,"method":"Input.insertText","params":{"text":"hello 😀"}}""",
            """{"method":"Input.insertText","connection_id":"c1","command_id":13,"text_length":8}"""
        },
        {
            "imeSetComposition",
            """{"id":14,"method":"Input.imeSetComposition","params":{"text":"かな","selectionStart":2,"selectionEnd":2,"replacementStart":0,"replacementEnd":1}}""",
            """{"method":"Input.imeSetComposition","connection_id":"c1","command_id":14,"text_length":2,"selection_start":2,"selection_end":2,"replacement_start":0,"replacement_end":1}"""
        },
        {
            "touch: count plus the first point",
            """{"id":15,"method":"Input.dispatchTouchEvent","params":{"type":"touchStart","touchPoints":[{"x":10,"y":20,"radiusX":2,"radiusY":3,"rotationAngle":4,"force":1,"tangentialPressure":0.5,"tiltX":5,"tiltY":6,"twist":7,"id":99},{"x":30,"y":40}],"modifiers":1,"timestamp":3}}""",
            """{"method":"Input.dispatchTouchEvent","connection_id":"c1","command_id":15,"event_type":"touchStart","touch_point_count":2,"x":10,"y":20,"radius_x":2,"radius_y":3,"rotation_angle":4,"force":1,"tangential_pressure":0.5,"tilt_x":5,"tilt_y":6,"twist":7,"modifiers":1}"""
        },
        {
            "touchEnd with no points",
            """{"id":16,"method":"Input.dispatchTouchEvent","params":{"type":"touchEnd","touchPoints":[]}}""",
            """{"method":"Input.dispatchTouchEvent","connection_id":"c1","command_id":16,"event_type":"touchEnd","touch_point_count":0}"""
        },
        {
            "drag: counts plus sorted MIME categories",
            """{"id":17,"method":"Input.dispatchDragEvent","params":{"type":"drop","x":5,"y":6,"data":{"items":[{"mimeType":"text/plain","data":"secret"},{"mimeType":"image/png","data":"AAA"},{"mimeType":"text/html","data":"<b>","title":"t","baseURL":"https://x/"}],"files":["/tmp/a","/tmp/b"],"dragOperationsMask":1},"modifiers":4}}""",
            """{"method":"Input.dispatchDragEvent","connection_id":"c1","command_id":17,"event_type":"drop","x":5,"y":6,"modifiers":4,"drag_item_count":3,"drag_file_count":2,"drag_mime_categories":["image","text"],"drag_operations_mask":1}"""
        },
        {
            "cancelDragging has no arguments",
            """{"id":18,"method":"Input.cancelDragging"}""",
            """{"method":"Input.cancelDragging","connection_id":"c1","command_id":18}"""
        },
        {
            "emulateTouchFromMouseEvent",
            """{"id":19,"method":"Input.emulateTouchFromMouseEvent","params":{"type":"mousePressed","x":10,"y":20,"button":"left","timestamp":1,"deltaX":1.5,"deltaY":2.5,"modifiers":0,"clickCount":1}}""",
            """{"method":"Input.emulateTouchFromMouseEvent","connection_id":"c1","command_id":19,"event_type":"mousePressed","x":10,"y":20,"button":"left","delta_x":1.5,"delta_y":2.5,"modifiers":0,"click_count":1}"""
        },
        {
            "pinch gesture",
            """{"id":20,"method":"Input.synthesizePinchGesture","params":{"x":100,"y":200,"scaleFactor":1.5,"relativeSpeed":800,"gestureSourceType":"touch"}}""",
            """{"method":"Input.synthesizePinchGesture","connection_id":"c1","command_id":20,"x":100,"y":200,"scale_factor":1.5,"relative_speed":800,"gesture_source_type":"touch"}"""
        },
        {
            "scroll gesture (the marker name is dropped)",
            """{"id":21,"method":"Input.synthesizeScrollGesture","params":{"x":1,"y":2,"xDistance":0,"yDistance":-300,"xOverscroll":1,"yOverscroll":2,"preventFling":true,"speed":800,"gestureSourceType":"mouse","repeatCount":2,"repeatDelayMs":100,"interactionMarkerName":"checkout"}}""",
            """{"method":"Input.synthesizeScrollGesture","connection_id":"c1","command_id":21,"x":1,"y":2,"x_distance":0,"y_distance":-300,"x_overscroll":1,"y_overscroll":2,"prevent_fling":true,"speed":800,"gesture_source_type":"mouse","repeat_count":2,"repeat_delay_ms":100}"""
        },
        {
            "tap gesture",
            """{"id":22,"method":"Input.synthesizeTapGesture","params":{"x":5,"y":6,"duration":50,"tapCount":2,"gestureSourceType":"default"}}""",
            """{"method":"Input.synthesizeTapGesture","connection_id":"c1","command_id":22,"x":5,"y":6,"duration":50,"tap_count":2,"gesture_source_type":"default"}"""
        },
        {
            "file input: the count, never the paths",
            """{"id":23,"method":"DOM.setFileInputFiles","params":{"files":["/home/u/secret.pdf","/tmp/x"],"nodeId":4,"backendNodeId":42,"objectId":"-1.2.3"}}""",
            """{"method":"DOM.setFileInputFiles","connection_id":"c1","command_id":23,"file_count":2,"node_id":4,"backend_node_id":42,"object_id":"-1.2.3"}"""
        },
        {
            "DOM.focus",
            """{"id":24,"method":"DOM.focus","params":{"objectId":"-9.1.2"}}""",
            """{"method":"DOM.focus","connection_id":"c1","command_id":24,"object_id":"-9.1.2"}"""
        },
        {
            "DOM.scrollIntoViewIfNeeded with a rect",
            """{"id":25,"method":"DOM.scrollIntoViewIfNeeded","params":{"nodeId":3,"rect":{"x":0,"y":10,"width":100,"height":50}}}""",
            """{"method":"DOM.scrollIntoViewIfNeeded","connection_id":"c1","command_id":25,"node_id":3,"rect_x":0,"rect_y":10,"rect_width":100,"rect_height":50}"""
        },
        {
            "navigate: scheme only, referrer as a flag",
            """{"id":26,"method":"Page.navigate","params":{"url":"https://user:pw@secret.example/path?q=1","referrer":"https://ref.example/","transitionType":"typed","frameId":"F1","referrerPolicy":"origin"}}""",
            """{"method":"Page.navigate","connection_id":"c1","command_id":26,"url_scheme":"https","referrer_present":true,"transition_type":"typed","frame_id":"F1","referrer_policy":"origin"}"""
        },
        {
            "navigate without a referrer",
            """{"id":27,"method":"Page.navigate","params":{"url":"about:blank"}}""",
            """{"method":"Page.navigate","connection_id":"c1","command_id":27,"url_scheme":"about","referrer_present":false}"""
        },
        {
            "navigateToHistoryEntry",
            """{"id":28,"method":"Page.navigateToHistoryEntry","params":{"entryId":3}}""",
            """{"method":"Page.navigateToHistoryEntry","connection_id":"c1","command_id":28,"entry_id":3}"""
        },
        {
            "reload: the script as a length",
            """{"id":29,"method":"Page.reload","params":{"ignoreCache":true,"scriptToEvaluateOnLoad":"alert(1)","loaderId":"L1"}}""",
            """{"method":"Page.reload","connection_id":"c1","command_id":29,"ignore_cache":true,"script_length":8,"loader_id":"L1"}"""
        },
        {
            "reload without params",
            """{"id":30,"method":"Page.reload"}""",
            """{"method":"Page.reload","connection_id":"c1","command_id":30}"""
        },
        {
            "bringToFront",
            """{"id":31,"method":"Page.bringToFront","params":{}}""",
            """{"method":"Page.bringToFront","connection_id":"c1","command_id":31}"""
        },
        {
            "Page.close",
            """{"id":32,"sessionId":"S2","method":"Page.close"}""",
            """{"method":"Page.close","connection_id":"c1","command_id":32,"session_id":"S2"}"""
        },
        {
            "stopLoading",
            """{"id":33,"method":"Page.stopLoading","params":null}""",
            """{"method":"Page.stopLoading","connection_id":"c1","command_id":33}"""
        },
        {
            "dialog: accept plus the prompt's length",
            """{"id":34,"method":"Page.handleJavaScriptDialog","params":{"accept":true,"promptText":"my answer"}}""",
            """{"method":"Page.handleJavaScriptDialog","connection_id":"c1","command_id":34,"accept":true,"prompt_text_length":9}"""
        },
        {
            "screenshot with a clip",
            """{"id":35,"method":"Page.captureScreenshot","params":{"format":"jpeg","quality":80,"clip":{"x":0,"y":0,"width":800,"height":600,"scale":1},"fromSurface":true,"captureBeyondViewport":false,"optimizeForSpeed":true}}""",
            """{"method":"Page.captureScreenshot","connection_id":"c1","command_id":35,"format":"jpeg","quality":80,"clip_x":0,"clip_y":0,"clip_width":800,"clip_height":600,"clip_scale":1,"from_surface":true,"capture_beyond_viewport":false,"optimize_for_speed":true}"""
        },
        {
            "captureSnapshot",
            """{"id":36,"method":"Page.captureSnapshot","params":{"format":"mhtml"}}""",
            """{"method":"Page.captureSnapshot","connection_id":"c1","command_id":36,"format":"mhtml"}"""
        },
        {
            "printToPDF: templates and ranges as flags",
            """{"id":37,"method":"Page.printToPDF","params":{"landscape":true,"displayHeaderFooter":true,"printBackground":true,"scale":0.8,"paperWidth":8.5,"paperHeight":11,"marginTop":0.4,"marginBottom":0.4,"marginLeft":0,"marginRight":0,"pageRanges":"1-2","headerTemplate":"<span class=title></span>","footerTemplate":"","preferCSSPageSize":false,"transferMode":"ReturnAsStream","generateTaggedPDF":true,"generateDocumentOutline":false}}""",
            """{"method":"Page.printToPDF","connection_id":"c1","command_id":37,"landscape":true,"display_header_footer":true,"print_background":true,"scale":0.8,"paper_width":8.5,"paper_height":11,"margin_top":0.4,"margin_bottom":0.4,"margin_left":0,"margin_right":0,"page_ranges_present":true,"header_template_present":true,"footer_template_present":false,"prefer_css_page_size":false,"transfer_mode":"ReturnAsStream","generate_tagged_pdf":true,"generate_document_outline":false}"""
        },
        {
            "startScreencast",
            """{"id":38,"method":"Page.startScreencast","params":{"format":"png","quality":50,"maxWidth":1280,"maxHeight":720,"everyNthFrame":2}}""",
            """{"method":"Page.startScreencast","connection_id":"c1","command_id":38,"format":"png","quality":50,"max_width":1280,"max_height":720,"every_nth_frame":2}"""
        },
        {
            "stopScreencast",
            """{"id":39,"method":"Page.stopScreencast"}""",
            """{"method":"Page.stopScreencast","connection_id":"c1","command_id":39}"""
        },
        {
            "setWebLifecycleState",
            """{"id":40,"method":"Page.setWebLifecycleState","params":{"state":"frozen"}}""",
            """{"method":"Page.setWebLifecycleState","connection_id":"c1","command_id":40,"state":"frozen"}"""
        },
        {
            "createTarget",
            """{"id":41,"method":"Target.createTarget","params":{"url":"about:blank","left":1,"top":2,"width":800,"height":600,"windowState":"maximized","browserContextId":"CTX","enableBeginFrameControl":false,"newWindow":true,"background":false,"forTab":false,"hidden":true,"focus":true}}""",
            """{"method":"Target.createTarget","connection_id":"c1","command_id":41,"url_scheme":"about","left":1,"top":2,"width":800,"height":600,"window_state":"maximized","browser_context_id":"CTX","enable_begin_frame_control":false,"new_window":true,"background":false,"for_tab":false,"hidden":true,"focus":true}"""
        },
        {
            "closeTarget",
            """{"id":42,"method":"Target.closeTarget","params":{"targetId":"T1"}}""",
            """{"method":"Target.closeTarget","connection_id":"c1","command_id":42,"target_id":"T1"}"""
        },
        {
            "activateTarget",
            """{"id":43,"method":"Target.activateTarget","params":{"targetId":"T2"}}""",
            """{"method":"Target.activateTarget","connection_id":"c1","command_id":43,"target_id":"T2"}"""
        },
        {
            "createBrowserContext: proxy as flags, origins as a count",
            """{"id":44,"method":"Target.createBrowserContext","params":{"disposeOnDetach":true,"proxyServer":"http://proxy:8080","originsWithUniversalNetworkAccess":["https://a","https://b"]}}""",
            """{"method":"Target.createBrowserContext","connection_id":"c1","command_id":44,"dispose_on_detach":true,"proxy_server_present":true,"proxy_bypass_list_present":false,"universal_network_access_origin_count":2}"""
        },
        {
            "disposeBrowserContext",
            """{"id":45,"method":"Target.disposeBrowserContext","params":{"browserContextId":"CTX"}}""",
            """{"method":"Target.disposeBrowserContext","connection_id":"c1","command_id":45,"browser_context_id":"CTX"}"""
        },
        {
            "Browser.close",
            """{"id":46,"method":"Browser.close"}""",
            """{"method":"Browser.close","connection_id":"c1","command_id":46}"""
        },
        {
            "setWindowBounds is flattened",
            """{"id":47,"method":"Browser.setWindowBounds","params":{"windowId":1,"bounds":{"left":10,"top":20,"width":800,"height":600,"windowState":"normal"}}}""",
            """{"method":"Browser.setWindowBounds","connection_id":"c1","command_id":47,"window_id":1,"left":10,"top":20,"width":800,"height":600,"window_state":"normal"}"""
        },
        {
            "cancelDownload",
            """{"id":48,"method":"Browser.cancelDownload","params":{"guid":"G1","browserContextId":"CTX"}}""",
            """{"method":"Browser.cancelDownload","connection_id":"c1","command_id":48,"download_guid":"G1","browser_context_id":"CTX"}"""
        },
    };

    [Theory]
    [MemberData(nameof(Positive))]
    public void ReportedCommandsGiveExactlyTheirSanitizedPayload(string name, string frame, string expected)
    {
        Assert.NotNull(name);
        Assert.Equal(expected, Payload(frame));
    }

    [Fact]
    public void EveryReportedMethodHasAPositiveCase()
    {
        var covered = Positive.Select(row => (string)row[1]!)
            .Select(frame => { CdpCommandClassifier.TryReadMethod(Utf8(frame), out CdpMethod m); return m; })
            .ToHashSet();
        Assert.All(CdpMethods.All, m => Assert.Contains(m, covered));
        Assert.Equal(35, CdpMethods.All.Count);
    }

    public static TheoryData<string> LibraryTraffic => new()
    {
        """{"id":1,"method":"Runtime.evaluate","params":{"expression":"document.title"}}""",
        """{"id":1,"method":"Runtime.callFunctionOn","params":{"functionDeclaration":"function(){}","arguments":[{"value":"secret"}]}}""",
        """{"id":1,"method":"Emulation.setDeviceMetricsOverride","params":{"width":800,"height":600,"deviceScaleFactor":1,"mobile":false}}""",
        """{"id":1,"method":"DOM.describeNode","params":{"nodeId":1}}""",
        """{"id":1,"method":"DOM.querySelector","params":{"nodeId":1,"selector":"input"}}""",
        """{"id":1,"method":"Browser.getVersion"}""",
        """{"id":1,"method":"Browser.executeBrowserCommand","params":{"commandId":"openTabSearch"}}""",
        """{"id":1,"method":"Target.openDevTools","params":{"targetId":"T"}}""",
        """{"id":1,"method":"Browser.setContentsSize","params":{"windowId":1,"width":1}}""",
        """{"id":1,"method":"Autofill.trigger","params":{"fieldId":1}}""",
        """{"id":1,"method":"Target.setAutoAttach","params":{"autoAttach":true,"waitForDebuggerOnStart":false}}""",
        """{"id":1,"result":{}}""",
        """{"id":1,"error":{"code":-32601,"message":"x"}}""",
        """{"method":"Page.loadEventFired","params":{"timestamp":1}}""",
        """{"id":1,"method":"Runtime.evaluate","params":{"method":"Input.dispatchMouseEvent"}}""",
        """{"id":1,"params":{"method":"Input.dispatchMouseEvent","x":1},"method":"Runtime.evaluate"}""",
        """{"id":1,"method":"Runtime.evaluate","method":"Input.dispatchMouseEvent"}""",
        """{"id":1,"method":"input.dispatchMouseEvent"}""",
        """{"id":1,"method":"Input.dispatchMouseEvent "}""",
        """{"id":1,"method":"Input.dispatchMouseEvent\u0000"}""",
        """{"id":1,"method":"Input"}""",
        """{"id":1,"method":""}""",
        """{"id":1,"method":5}""",
        """{"id":1,"method":null}""",
        """{"id":1,"method":["Input.dispatchMouseEvent"]}""",
        """{"id":1,"method":{"name":"Input.dispatchMouseEvent"}}""",
        """{"id":1,"Method":"Input.dispatchMouseEvent"}""",
        """[{"id":1,"method":"Input.dispatchMouseEvent"}]""",
        "\"Input.dispatchMouseEvent\"",
        """not json at all""",
        "",
        "   ",
        """{"id":1,"params":{"x":1""",
        """{}""",
    };

    [Theory]
    [MemberData(nameof(LibraryTraffic))]
    public void LibraryTrafficResultsEventsAndGarbageAreNotAdmitted(string frame)
    {
        Assert.False(CdpCommandClassifier.TryReadMethod(Utf8(frame), out _));
    }

    [Theory]
    [InlineData("""{"id":1,"method":"Input.\u0064ispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2}}""")]
    [InlineData("""{"id":1,"method":"\u0049\u006e\u0070\u0075\u0074\u002e\u0064\u0069\u0073\u0070\u0061\u0074\u0063\u0068\u004d\u006f\u0075\u0073\u0065\u0045\u0076\u0065\u006e\u0074","params":{"type":"mouseMoved","x":1,"y":2}}""")]
    [InlineData("""{"id":1,"\u006dethod":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2}}""")]
    [InlineData("""{"id":1,"method":"Input\/dispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2}}""", false)]
    public void EscapedMethodNamesAreDecoded(string frame, bool reported = true)
    {
        (FrameOutcome outcome, string? payload) = Run(frame);
        if (!reported)
        {
            Assert.Equal(FrameOutcome.NotAdmitted, outcome);
            return;
        }
        Assert.Equal(FrameOutcome.Reported, outcome);
        Assert.Equal("""{"method":"Input.dispatchMouseEvent","connection_id":"c1","command_id":1,"event_type":"mouseMoved","x":1,"y":2}""", payload);
    }

    [Fact]
    public void MethodAfterParamsIsFoundAndANestedMethodIsIgnored()
    {
        string frame = """{"id":3,"params":{"method":"Runtime.evaluate","url":"https://x.example/","nested":{"method":"Browser.close"}},"method":"Page.navigate"}""";
        Assert.Equal("""{"method":"Page.navigate","connection_id":"c1","command_id":3,"url_scheme":"https","referrer_present":false}""", Payload(frame));
    }

    [Fact]
    public void ANestedSpoofIsNotReported()
    {
        Assert.Equal(FrameOutcome.NotAdmitted, Run("""{"id":1,"method":"Runtime.evaluate","params":{"method":"Input.dispatchMouseEvent"}}""").Outcome);
        Assert.Equal(FrameOutcome.NotAdmitted, Run("""{"id":1,"params":{"method":"Input.dispatchMouseEvent"}}""").Outcome);
    }

    [Theory]
    [InlineData("""{"id":1,"method":"Input.dispatchMouseEvent","method":"Runtime.evaluate"}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchMouseEvent","\u006dethod":"Input.dispatchMouseEvent"}""")]
    [InlineData("""{"id":1,"id":2,"method":"Page.reload"}""")]
    [InlineData("""{"id":1,"method":"Page.reload","params":{},"params":{}}""")]
    [InlineData("""{"id":1,"sessionId":"a","method":"Page.reload","sessionId":"b"}""")]
    public void DuplicateTopLevelKeysAreNotACommandAndNotALoss(string frame)
    {
        // Chromium rejects a duplicated envelope key as a parse error, so nothing ran.
        Assert.Equal(FrameOutcome.Ignored, Run(frame).Outcome);
    }

    [Theory]
    [InlineData("""{"id":1,"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":"nope","y":2}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchMouseEvent","params":5}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchMouseEvent","params":"x"}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchMouseEvent","params":[]}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchMouseEvent","params":{"type":5,"x":1,"y":2}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2,"modifiers":1.5}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2,"clickCount":"2"}}""")]
    [InlineData("""{"id":1,"method":"Input.insertText","params":{"text":5}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchKeyEvent","params":{"type":"keyDown","autoRepeat":"yes"}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchKeyEvent","params":{"type":"keyDown","commands":"insertNewline"}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchTouchEvent","params":{"type":"touchStart","touchPoints":{"x":1,"y":2}}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchTouchEvent","params":{"type":"touchStart","touchPoints":[{"x":"1","y":2}]}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchDragEvent","params":{"type":"drop","x":1,"y":2,"data":{"items":[{"mimeType":7}]}}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchDragEvent","params":{"type":"drop","x":1,"y":2,"data":{"items":["text/plain"]}}}""")]
    [InlineData("""{"id":1,"method":"Input.dispatchDragEvent","params":{"type":"drop","x":1,"y":2,"data":"x"}}""")]
    [InlineData("""{"id":1,"method":"DOM.setFileInputFiles","params":{"files":"/etc/passwd","nodeId":1}}""")]
    [InlineData("""{"id":1,"method":"DOM.focus","params":{"objectId":5}}""")]
    [InlineData("""{"id":1,"method":"Page.navigate","params":{"url":5}}""")]
    [InlineData("""{"id":1,"method":"Page.navigate","params":{"url":"https://x/","referrer":true}}""")]
    [InlineData("""{"id":1,"method":"Page.handleJavaScriptDialog","params":{"accept":"yes"}}""")]
    [InlineData("""{"id":1,"method":"Page.captureScreenshot","params":{"clip":"0,0,10,10"}}""")]
    [InlineData("""{"id":1,"method":"Page.captureScreenshot","params":{"quality":1e300}}""")]
    [InlineData("""{"id":1,"method":"Browser.setWindowBounds","params":{"windowId":1,"bounds":{"left":1.5}}}""")]
    [InlineData("""{"id":"abc","method":"Page.reload"}""")]
    [InlineData("""{"id":1.5,"method":"Page.reload"}""")]
    [InlineData("""{"id":true,"method":"Page.reload"}""")]
    [InlineData("""{"id":1,"sessionId":5,"method":"Page.reload"}""")]
    public void MalformedCommandsAreALoss(string frame)
    {
        Assert.Equal(FrameOutcome.Malformed, Run(frame).Outcome);
    }

    [Fact]
    public void AMalformedResultNamesTheArgumentButNeverItsValue()
    {
        byte[] frame = Utf8("""{"id":1,"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":"SENTINEL-42","y":2}}""");
        Assert.True(CdpCommandClassifier.TryReadMethod(frame, out CdpMethod method));
        ClassifyResult result = CdpCommandClassifier.Classify(frame, method, "c1");
        Assert.True(result.IsMalformed);
        Assert.Null(result.Data);
        Assert.Equal("params.x must be a number", result.Problem);
    }

    [Theory]
    [InlineData("""{"id":1,"method":"Input.insertText","params":{"text":"abc""")]
    [InlineData("""{"id":1,"method":"Input.insertText","params":{"text":"abc"}} trailing""")]
    [InlineData("""{"id":1,"method":"Input.insertText","params":{"text":"abc"}}{}""")]
    [InlineData("""{"id":1,"method":"Input.insertText","params":{"text":"abc",}}""")]
    [InlineData("""{"id":1,"method":"Input.insertText","params":{"text":"abc"} /* c */}""")]
    public void InvalidJsonAfterAnAdmittedMethodIsNotALoss(string frame)
    {
        // Admission stops at the method; reading the rest shows it is not JSON, which Chromium rejects too.
        Assert.True(CdpCommandClassifier.TryReadMethod(Utf8(frame), out _));
        Assert.Equal(FrameOutcome.Ignored, Run(frame).Outcome);
    }

    [Fact]
    public void ClassifyIgnoresAFrameWhoseMethodIsNotTheAdmittedOne()
    {
        ClassifyResult result = CdpCommandClassifier.Classify(Utf8("""{"id":1,"method":"Page.reload"}"""), CdpMethod.BrowserClose, "c1");
        Assert.Equal(ClassifyOutcome.Ignored, result.Outcome);
    }

    [Fact]
    public void UnknownParamsAndTopLevelKeysAreIgnored()
    {
        Assert.Equal(
            """{"method":"Page.reload","connection_id":"c1","command_id":1,"ignore_cache":false}""",
            Payload("""{"id":1,"method":"Page.reload","params":{"ignoreCache":false,"somethingNew":{"deep":[1,2,"x"]},"url":"https://x/"},"extra":"x"}"""));
    }

    [Fact]
    public void NullArgumentsCountAsAbsent()
    {
        Assert.Equal(
            """{"method":"Input.dispatchMouseEvent","connection_id":"c1","event_type":"mouseMoved","x":1,"y":2}""",
            Payload("""{"id":null,"sessionId":null,"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2,"button":null,"modifiers":null}}"""));
    }

    [Fact]
    public void IntegralNumbersInAnyNotationAreIntegersAndHugeNumbersAreLeftOut()
    {
        Assert.Equal(
            """{"method":"Input.dispatchMouseEvent","connection_id":"c1","command_id":3,"event_type":"mouseMoved","y":2,"modifiers":1000,"click_count":1}""",
            Payload("""{"id":3.0,"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":1e400,"y":2,"modifiers":1e3,"clickCount":1.0}}"""));
    }

    [Fact]
    public void CommandIdIsReportedOnlyWhenSent()
    {
        Assert.Contains("\"command_id\":42", Payload("""{"id":42,"method":"Page.bringToFront"}"""));
        Assert.DoesNotContain("command_id", Payload("""{"method":"Page.bringToFront"}"""));
        Assert.Contains("\"command_id\":-5", Payload("""{"id":-5,"method":"Page.bringToFront"}"""));
        Assert.Contains("\"command_id\":9007199254740993", Payload("""{"id":9007199254740993,"method":"Page.bringToFront"}"""));
    }

    [Fact]
    public void SessionIdIsReportedOnlyWhenAddressed()
    {
        Assert.Contains("\"session_id\":\"ABC\"", Payload("""{"id":1,"sessionId":"ABC","method":"Page.bringToFront"}"""));
        Assert.DoesNotContain("session_id", Payload("""{"id":1,"method":"Page.bringToFront"}"""));
    }

    public static TheoryData<string, string> UnknownEnums => new()
    {
        { """{"method":"Input.dispatchMouseEvent","params":{"type":"mouseTeleported","x":1,"y":2}}""", "event_type" },
        { """{"method":"Input.dispatchMouseEvent","params":{"type":"","x":1,"y":2}}""", "event_type" },
        { """{"method":"Input.dispatchMouseEvent","params":{"type":"MousePressed","x":1,"y":2}}""", "event_type" },
        { """{"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2,"button":"thumb"}}""", "button" },
        { """{"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2,"pointerType":"finger"}}""", "pointer_type" },
        { """{"method":"Input.dispatchKeyEvent","params":{"type":"keyPress"}}""", "event_type" },
        { """{"method":"Input.dispatchTouchEvent","params":{"type":"touchHover","touchPoints":[]}}""", "event_type" },
        { """{"method":"Input.dispatchDragEvent","params":{"type":"dragLeave","x":1,"y":2}}""", "event_type" },
        { """{"method":"Input.emulateTouchFromMouseEvent","params":{"type":"x","x":1,"y":2,"button":"y"}}""", "button" },
        { """{"method":"Input.synthesizeTapGesture","params":{"x":1,"y":2,"gestureSourceType":"stylus"}}""", "gesture_source_type" },
        { """{"method":"Page.navigate","params":{"url":"https://x/","transitionType":"TYPED"}}""", "transition_type" },
        { """{"method":"Page.navigate","params":{"url":"https://x/","referrerPolicy":"no-referrer"}}""", "referrer_policy" },
        { """{"method":"Page.captureScreenshot","params":{"format":"gif"}}""", "format" },
        { """{"method":"Page.captureSnapshot","params":{"format":"html"}}""", "format" },
        { """{"method":"Page.startScreencast","params":{"format":"webp"}}""", "format" },
        { """{"method":"Page.printToPDF","params":{"transferMode":"ReturnAsFile"}}""", "transfer_mode" },
        { """{"method":"Page.setWebLifecycleState","params":{"state":"sleeping"}}""", "state" },
        { """{"method":"Target.createTarget","params":{"url":"","windowState":"tiled"}}""", "window_state" },
        { """{"method":"Browser.setWindowBounds","params":{"windowId":1,"bounds":{"windowState":"\ud800"}}}""", "window_state" },
        { """{"method":"Input.dispatchMouseEvent","params":{"type":"mouseMoved","x":1,"y":2,"pointerType":"SENTINEL-42-very-long-value-that-is-longer-than-any-enum"}}""", "pointer_type" },
    };

    [Theory]
    [InlineData("""{"method":"Input.dispatchMouseEvent","params":{"type":"mouse\u0050ressed","x":1,"y":2,"button":"\u006c\u0065ft"}}""", "button", "left")]
    [InlineData("""{"method":"Input.dispatchMouseEvent","params":{"type":"mouse\u0050ressed","x":1,"y":2}}""", "event_type", "mousePressed")]
    [InlineData("""{"method":"Input.dispatchKeyEvent","params":{"type":"keyDown","key":"\u0045nter"}}""", "named_key", "Enter")]
    [InlineData("""{"method":"Input.dispatchKeyEvent","params":{"type":"keyDown","key":"Arrow\u004ceft"}}""", "named_key", "ArrowLeft")]
    public void EscapedEnumValuesAndNamedKeysMatchLikePlainOnes(string frame, string field, string expected)
    {
        using var payload = System.Text.Json.JsonDocument.Parse(Payload(frame));
        Assert.Equal(expected, payload.RootElement.GetProperty(field).GetString());
    }

    [Theory]
    [MemberData(nameof(UnknownEnums))]
    public void UnknownEnumValuesReportAsOther(string frame, string field)
    {
        using var payload = System.Text.Json.JsonDocument.Parse(Payload(frame));
        Assert.Equal("other", payload.RootElement.GetProperty(field).GetString());
    }

    [Theory]
    [InlineData("a")]
    [InlineData("enter")]
    [InlineData("ENTER")]
    [InlineData("F13")]
    [InlineData(" ")]
    [InlineData("Dead")]
    [InlineData("")]
    public void KeysOutsideTheAllowlistAreNotNamed(string key)
    {
        string payload = Payload($$$"""{"method":"Input.dispatchKeyEvent","params":{"type":"keyDown","key":"{{{key}}}"}}""");
        Assert.DoesNotContain("named_key", payload);
    }

    [Fact]
    public void EveryAllowlistedKeyIsNamed()
    {
        foreach (string key in CdpVocabulary.NamedKeys.Values)
        {
            Assert.Contains($"\"named_key\":\"{key}\"", Payload($$$"""{"method":"Input.dispatchKeyEvent","params":{"type":"keyDown","key":"{{{key}}}"}}"""));
        }
    }

    [Theory]
    [InlineData("https://secret.example/path?q=1#f", "https")]
    [InlineData("HTTP://X.EXAMPLE/", "http")]
    [InlineData("data:text/html,<h1>secret</h1>", "data")]
    [InlineData("about:blank", "about")]
    [InlineData("javascript:alert(document.cookie)", "javascript")]
    [InlineData("file:///etc/passwd", "file")]
    [InlineData("chrome://settings", "chrome")]
    [InlineData("chrome-extension://abc/page.html", "chrome-extension")]
    [InlineData("view-source:https://x/", "view-source")]
    [InlineData("  \\thttps://x/", "https")]
    [InlineData("ht\\ttps://x/", "https")]
    [InlineData("\\u0068ttps://x/", "https")]
    [InlineData("myapp-token123:open", "other")]
    [InlineData("localhost:8080", "other")]
    [InlineData("c:\\\\Users\\\\secret", "other")]
    [InlineData("abcdefghijklmnopqrstuvwxyzabcdefghijklmnop://x", "other")]
    [InlineData("/relative/path", null)]
    [InlineData("secret.example/path", null)]
    [InlineData("?q=1", null)]
    [InlineData("", null)]
    [InlineData("1http://x/", null)]
    [InlineData("http", null)]
    [InlineData("ht tp://x/", null)]
    public void NavigationReportsTheSchemeOnly(string url, string? scheme)
    {
        string payload = Payload($$$"""{"method":"Page.navigate","params":{"url":"{{{url}}}"}}""");
        if (scheme is null)
        {
            Assert.DoesNotContain("url_scheme", payload);
        }
        else
        {
            Assert.Contains($"\"url_scheme\":\"{scheme}\"", payload);
        }
        Assert.DoesNotContain("secret", payload, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("example", payload, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url_host", payload);
    }

    [Theory]
    [InlineData("é", 1)]
    [InlineData("e\\u0301", 2)]
    [InlineData("😀", 2)]
    [InlineData("\\ud83d\\ude00", 2)]
    [InlineData("\\ud800", 1)]
    [InlineData("a\\nb\\\"c\\\\", 6)]
    [InlineData("日本語", 3)]
    [InlineData("", 0)]
    public void TextLengthsCountUtf16CodeUnits(string text, int length)
    {
        Assert.Contains($"\"text_length\":{length}}}", Payload($$$"""{"method":"Input.insertText","params":{"text":"{{{text}}}"}}"""));
    }

    [Fact]
    public void InvalidUtf8TextIsMeasuredWithoutFailing()
    {
        byte[] frame = [.. Utf8("""{"method":"Input.insertText","params":{"text":"a"""), 0xFF, 0xC3, .. Utf8("""b"}}""")];
        Assert.Equal("""{"method":"Input.insertText","connection_id":"c1","text_length":4}""", Payload(frame));
    }

    [Theory]
    [InlineData("""[{"mimeType":"TEXT/Plain"},{"mimeType":"text/html;charset=utf-8"}]""", """["text"]""")]
    [InlineData("""[{"mimeType":"x-secret/thing"},{"mimeType":""},{"mimeType":"image"},{"mimeType":"font/woff2"}]""", """["font","other"]""")]
    [InlineData("""[{"data":"no type"}]""", """[]""")]
    [InlineData("""[]""", """[]""")]
    public void DragMimeTypesAreReducedToSortedDistinctCategories(string items, string categories)
    {
        string payload = Payload("""{"method":"Input.dispatchDragEvent","params":{"type":"drop","x":1,"y":2,"data":{"items":""" + items + ""","dragOperationsMask":1}}}""");
        Assert.Contains($"\"drag_mime_categories\":{categories}", payload);
    }

    [Fact]
    public void SessionIdIsClippedTo128Bytes()
    {
        string payload = Payload($$$"""{"id":1,"sessionId":"{{{new string('S', 500)}}}","method":"Page.bringToFront"}""");
        using var document = System.Text.Json.JsonDocument.Parse(payload);
        Assert.Equal(new string('S', 128), document.RootElement.GetProperty("session_id").GetString());
    }

    [Theory]
    [InlineData(100, "é", 64)]
    [InlineData(50, "😀", 32)]
    [InlineData(300, "\\u0001", 128)]
    [InlineData(60, "\\ud800", 42)]
    public void OpaqueIdsAreClippedAtAUtf8Boundary(int repeat, string unit, int expectedUnits)
    {
        string id = string.Concat(Enumerable.Repeat(unit, repeat));
        string payload = Payload($$$"""{"id":1,"sessionId":"{{{id}}}","method":"Target.closeTarget","params":{"targetId":"{{{id}}}"}}""");
        using var document = System.Text.Json.JsonDocument.Parse(payload);
        foreach (string field in new[] { "session_id", "target_id" })
        {
            string value = document.RootElement.GetProperty(field).GetString()!;
            Assert.True(System.Text.Encoding.UTF8.GetByteCount(value) <= 128);
            Assert.Equal(expectedUnits, System.Globalization.StringInfo.ParseCombiningCharacters(value).Length);
        }
    }

    [Fact]
    public void AMixedWidthIdIsClippedBeforeTheScalarThatWouldCross128Bytes()
    {
        string id = "a" + string.Concat(Enumerable.Repeat("😀", 40));
        string payload = Payload($$$"""{"id":1,"method":"Target.closeTarget","params":{"targetId":"{{{id}}}"}}""");
        using var document = System.Text.Json.JsonDocument.Parse(payload);
        Assert.Equal("a" + string.Concat(Enumerable.Repeat("😀", 31)), document.RootElement.GetProperty("target_id").GetString());
    }

    [Fact]
    public void ConnectionIdIsClippedToo()
    {
        string payload = Payload("""{"method":"Browser.close"}""", new string('c', 300));
        using var document = System.Text.Json.JsonDocument.Parse(payload);
        Assert.Equal(new string('c', 128), document.RootElement.GetProperty("connection_id").GetString());
    }
}
