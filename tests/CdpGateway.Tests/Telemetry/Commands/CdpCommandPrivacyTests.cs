using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CdpGateway.Telemetry.Commands;
using static CdpGateway.Tests.Telemetry.Commands.CommandFrames;

namespace CdpGateway.Tests.Telemetry.Commands;

/// <summary>Shape only, never content: what no payload may ever contain, and how big it may get.</summary>
public sealed class CdpCommandPrivacyTests
{
    private const string Sentinel = "SENTINEL-42";
    private const long RedactedNumber = 987654;

    public static TheoryData<CdpMethod> Methods()
    {
        var data = new TheoryData<CdpMethod>();
        foreach (CdpMethod method in CdpMethods.All)
        {
            data.Add(method);
        }
        return data;
    }

    /// <summary>Sentinel-carrying strings in the shapes a URL, a key, a MIME type or a path take.</summary>
    private static readonly string[] SentinelStrings =
    [
        Sentinel,
        $"https://{Sentinel}.example/{Sentinel}?q={Sentinel}#{Sentinel}",
        $"{Sentinel}:{Sentinel}",
        $"text/{Sentinel}",
        $"/home/{Sentinel}/file.txt",
        $"\u00e9{Sentinel}\ud83d\ude00",
    ];

    /// <summary>
    /// The value every argument gets: the sentinel in every string (enums, URLs, keys, text, paths, templates,
    /// labels, at any depth), numbers where numbers are required so the command is not malformed, and a distinctive
    /// number in redacted numeric arguments. Opaque ids are the one exception: they are reported (clipped) by
    /// design, so they carry an id-like value instead.
    /// </summary>
    private static JsonNode SentinelValue(CdpArgument argument, string sentinel) => argument.Kind switch
    {
        CdpArgumentKind.String when argument.Treatment == CdpArgumentTreatment.OpaqueId => JsonValue.Create("ID-1")!,
        CdpArgumentKind.String => JsonValue.Create(sentinel)!,
        CdpArgumentKind.StringArray => new JsonArray(JsonValue.Create(sentinel), JsonValue.Create(sentinel)),
        CdpArgumentKind.Number or CdpArgumentKind.Integer when !argument.Retained => JsonValue.Create(RedactedNumber)!,
        CdpArgumentKind.Number => JsonValue.Create(1.5)!,
        CdpArgumentKind.Integer => JsonValue.Create(3)!,
        CdpArgumentKind.Boolean => JsonValue.Create(true)!,
        _ => new JsonArray(),
    };

    private static JsonObject SentinelParams(CdpMethod method, string sentinel)
    {
        JsonObject parameters = ParamsFor(method, a => SentinelValue(a, sentinel));
        // Arguments the protocol may add later, and look-alikes of sensitive ones, at the top and nested.
        parameters["expression"] = sentinel;
        parameters["url"] ??= sentinel;
        parameters["text"] ??= sentinel;
        parameters["nested"] = new JsonObject { ["text"] = sentinel, ["list"] = new JsonArray(sentinel) };
        foreach ((string _, JsonNode? child) in parameters.ToList())
        {
            if (child is JsonObject obj && !ReferenceEquals(obj, parameters["nested"]))
            {
                obj["extra"] = sentinel;
            }
        }
        return parameters;
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void ASentinelInEveryArgumentNeverReachesThePayload(CdpMethod method)
    {
        foreach (string sentinel in SentinelStrings)
        {
            string frame = Command(method, SentinelParams(method, sentinel), id: 5, sessionId: "S");
            (FrameOutcome outcome, string? payload) = Run(frame);

            Assert.Equal(FrameOutcome.Reported, outcome);
            Assert.DoesNotContain("SENTINEL", payload!, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(RedactedNumber.ToString(), payload!);
            // Nor in escaped form: the writer escapes non-ASCII, so look at the decoded strings as well.
            using JsonDocument document = JsonDocument.Parse(payload!);
            Assert.DoesNotContain(Strings(document.RootElement), s => s.Contains("SENTINEL", StringComparison.OrdinalIgnoreCase));
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void EveryRetainedArgumentIsReportedAndNothingElse(CdpMethod method)
    {
        // Natural values that each produce their field, so the manifest and the payload can be compared exactly.
        JsonNode Natural(CdpArgument a) => a.Treatment switch
        {
            CdpArgumentTreatment.Enum => JsonValue.Create(a.Values!.Values[0])!,
            CdpArgumentTreatment.NamedKey => JsonValue.Create("Enter")!,
            CdpArgumentTreatment.UrlScheme => JsonValue.Create("https://a.example/")!,
            CdpArgumentTreatment.MimeCategories => JsonValue.Create("text/plain")!,
            _ => SentinelValue(a, "value"),
        };
        string payload = Payload(Command(method, ParamsFor(method, Natural), id: 1, sessionId: "S"));

        using JsonDocument document = JsonDocument.Parse(payload);
        string[] fields = document.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        string[] expected = ["method", "connection_id", "command_id", "session_id",
            .. CdpArgumentManifest.For(method).Where(a => a.Retained).Select(a => a.Field!).Distinct()];
        Assert.Equal(expected, fields);
        Assert.Equal(method.Name(), document.RootElement.GetProperty("method").GetString());
    }

    [Fact]
    public void TheManifestCoversExactlyTheReportedMethodsWithADecisionForEveryArgument()
    {
        Assert.Equal(CdpMethods.All.OrderBy(m => m), CdpArgumentManifest.All.Select(a => a.Method).Distinct().Concat(
            CdpMethods.All.Where(m => CdpArgumentManifest.For(m).Count == 0)).OrderBy(m => m));
        foreach (CdpArgument argument in CdpArgumentManifest.All)
        {
            Assert.Equal(argument.Retained, argument.Field is not null);
            Assert.Equal(argument.Retained, argument.RedactedBecause is null);
            Assert.Equal(argument.Treatment == CdpArgumentTreatment.Enum, argument.Values is not null);
            Assert.Matches("^[a-z][a-z0-9_]*$", argument.Field ?? "redacted");
        }
        Assert.Equal(
            CdpArgumentManifest.All.Count,
            CdpArgumentManifest.All.Select(a => (a.Method, a.Path)).Distinct().Count());
    }

    [Fact]
    public void MethodNamesRoundTripAndFitTheAdmissionBuffer()
    {
        Assert.Equal(CdpMethods.All.Count, CdpMethods.AllNames.Distinct(StringComparer.Ordinal).Count());
        foreach (CdpMethod method in CdpMethods.All)
        {
            Assert.True(CdpMethods.TryParse(method.Name(), out CdpMethod parsed));
            Assert.Equal(method, parsed);
            Assert.True(method.Name().Length <= 40);
        }
        Assert.False(CdpMethods.TryParse("Runtime.evaluate", out _));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void AMegabyteInEveryArgumentStillGivesASmallPayload(CdpMethod method)
    {
        string huge = new('x', 1 << 20);
        JsonNode Huge(CdpArgument a) => a.Kind switch
        {
            CdpArgumentKind.String => JsonValue.Create(huge)!,
            CdpArgumentKind.StringArray => new JsonArray(JsonValue.Create(huge)),
            _ => SentinelValue(a, huge),
        };
        string frame = Command(method, ParamsFor(method, Huge), id: long.MaxValue, sessionId: huge);

        string payload = Payload(frame, connectionId: huge);

        Assert.True(Encoding.UTF8.GetByteCount(payload) < CdpCommandClassifier.MaxPayloadBytes, $"{payload.Length} bytes");
        using JsonDocument document = JsonDocument.Parse(payload);
        Assert.All(Strings(document.RootElement), s => Assert.True(Encoding.UTF8.GetByteCount(s) <= 128));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void TheWorstEscapingCaseStaysUnder4KiB(CdpMethod method)
    {
        // 128 control characters escape to 768 bytes each; long numbers everywhere else.
        string controls = new('\u0001', 600);
        JsonNode Worst(CdpArgument a) => a.Kind switch
        {
            CdpArgumentKind.String => JsonValue.Create(controls)!,
            CdpArgumentKind.Number => JsonValue.Create(-1.2345678901234567E+300)!,
            CdpArgumentKind.Integer => JsonValue.Create(-9007199254740991L)!,
            _ => SentinelValue(a, controls),
        };
        byte[] frame = Utf8(Command(method, ParamsFor(method, Worst), id: long.MinValue, sessionId: controls));
        Assert.True(CdpCommandClassifier.TryReadMethod(frame, out CdpMethod admitted));

        ClassifyResult result = CdpCommandClassifier.Classify(frame, admitted, controls);

        Assert.True(result.IsReported);
        Assert.True(result.Data!.Utf8Json.Length < CdpCommandClassifier.MaxPayloadBytes, $"{result.Data.Utf8Json.Length} bytes");
        Assert.DoesNotContain("truncated", result.Data.ToString());
    }

    [Fact]
    public void AMegabyteBeforeTheMethodIsSkippedNotReported()
    {
        string huge = new('x', 1 << 20);
        string frame = $$$"""{"id":1,"params":{"text":"{{{huge}}}","expression":"{{{huge}}}"},"method":"Input.insertText"}""";
        Assert.Equal($$$"""{"method":"Input.insertText","connection_id":"c1","command_id":1,"text_length":{{{1 << 20}}}}""", Payload(frame));
    }
}
