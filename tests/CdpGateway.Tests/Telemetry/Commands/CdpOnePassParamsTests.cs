using System.Text;
using CdpGateway.Telemetry.Commands;

namespace CdpGateway.Tests.Telemetry.Commands;

/// <summary>
/// The one-pass params reader is a shortcut, not a second sanitizer: for every method it serves, every argument and
/// every kind of value (right type, wrong type, null, non-finite, escaped, duplicated), it must give exactly the
/// payload, outcome and problem the document path gives.
/// </summary>
public sealed class CdpOnePassParamsTests
{
    private static readonly string[] Values =
    [
        "\"abc\"", "\"\"", "\"\\u0041b\\n\"", "\"https://example.test/x\"", "\"Enter\"", "\"mousePressed\"", "\"left\"",
        "\"" + new string('x', 300) + "\"", "\"\\ud800\"", "0", "-0", "1", "1.5", "3.0", "1e3", "1e400", "-12345678901234567890",
        "9007199254740993.0", "100.0", "412.50", "-0.0", "-7.25", "0.1", "0.0001", "0.00001", "0.000100", "0.00010001",
        "123456789012345", "1234567890123456", "123456789012.345", "12345678901.2345", "0.123456789012345", "1.0000000000000001",
        "true", "false", "null", "[]", "[1,[2],{\"a\":\"b\"}]", "{}", "{\"x\":[1,2]}",
    ];

    public static TheoryData<CdpMethod> OnePassMethods()
    {
        var data = new TheoryData<CdpMethod>();
        foreach (CdpMethod method in CdpMethods.All)
        {
            if (CdpOnePassParams.For(method) is not null)
            {
                data.Add(method);
            }
        }
        return data;
    }

    [Fact]
    public void TheFrequentGesturesTakeTheOnePassPath()
    {
        foreach (CdpMethod method in new[]
        {
            CdpMethod.InputDispatchMouseEvent, CdpMethod.InputDispatchKeyEvent, CdpMethod.InputInsertText,
            CdpMethod.PageNavigate, CdpMethod.PageHandleJavaScriptDialog,
        })
        {
            Assert.True(CdpOnePassParams.For(method) is not null, $"{method.Name()} should not need a document");
        }
    }

    [Theory]
    [MemberData(nameof(OnePassMethods))]
    public void EveryValueOfEveryArgumentGivesTheDocumentPathsPayload(CdpMethod method)
    {
        int frames = 0;
        foreach (CdpArgument argument in CdpArgumentManifest.For(method))
        {
            string key = argument.Path;
            foreach (string value in Values)
            {
                Compare(method, $"{{\"{key}\":{value}}}");
                // The last duplicate wins, whatever the first was.
                Compare(method, $"{{\"{key}\":{value},\"{key}\":1}}");
                Compare(method, $"{{\"{key}\":1,\"{key}\":{value}}}");
                frames += 3;
            }
            // An escaped key is the same key.
            Compare(method, $"{{\"\\u{(int)key[0]:x4}{key[1..]}\":\"abc\",\"unknown\":{{\"{key}\":\"nested\"}}}}");
        }
        // Every argument at once, as the sentinel tests send them, and params that are null, absent or empty.
        Compare(method, "{" + string.Join(",", CdpArgumentManifest.For(method).Select(a => $"\"{a.Path}\":\"v\"")) + "}");
        Compare(method, "{" + string.Join(",", CdpArgumentManifest.For(method).Select(a => $"\"{a.Path}\":7")) + "}");
        Compare(method, "null");
        Compare(method, "{}");
        Compare(method, null);
        Assert.True(frames > 0 || CdpArgumentManifest.For(method).Count == 0);
    }

    private static void Compare(CdpMethod method, string? parameters)
    {
        string frame = parameters is null
            ? $"{{\"id\":3,\"method\":\"{method.Name()}\"}}"
            : $"{{\"id\":3,\"sessionId\":\"S1\",\"method\":\"{method.Name()}\",\"params\":{parameters}}}";
        var document = Classify(frame, method, documentPath: true);
        var onePass = Classify(frame, method, documentPath: false);
        Assert.True(document == onePass, $"{frame}\n document path: {document}\n one pass:      {onePass}");
    }

    private static (ClassifyOutcome Outcome, string? Payload, string? Problem) Classify(string frame, CdpMethod method, bool documentPath)
    {
        CdpPayloadWriter payload = CdpPayloadWriter.Rent();
        CdpCommandClassifier.UseDocumentPath = documentPath;
        try
        {
            ClassifyOutcome outcome = CdpCommandClassifier.ClassifyInto(Encoding.UTF8.GetBytes(frame), method, CdpCommandClassifier.EncodeConnectionId("c1"), payload, out string? problem);
            return (outcome, outcome == ClassifyOutcome.Reported ? Encoding.UTF8.GetString(payload.WrittenSpan) : null, problem);
        }
        finally
        {
            CdpCommandClassifier.UseDocumentPath = false;
            CdpPayloadWriter.Return(payload);
        }
    }
}
