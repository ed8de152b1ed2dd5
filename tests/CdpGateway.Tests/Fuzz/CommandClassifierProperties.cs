using System.Text;
using System.Text.Json;
using CdpGateway.Telemetry.Commands;
using CsCheck;

namespace CdpGateway.Tests.Fuzz;

public class CommandClassifierProperties
{
    private static readonly Gen<byte[]> Commands = JsonText.Draws.Select(d => Encoding.UTF8.GetBytes(new JsonText(d).Command()));

    private static readonly Gen<byte[]> MutatedCommands = Gen.Select(Commands, Gen.Int[0, int.MaxValue].Array[2, 3], JsonText.Mutate);

    private static CdpMethod? ReferenceMethod(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("method", out var method) || method.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        try
        {
            return CdpMethods.TryParse(method.GetString()!, out var named) ? named : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The id as the classifier must report it, from System.Text.Json's reading: absent for null or no id, false when it is not an integer.</summary>
    private static bool ReferenceId(JsonElement root, out long? id)
    {
        id = null;
        if (!root.TryGetProperty("id", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (value.ValueKind != JsonValueKind.Number)
        {
            return false;
        }
        if (value.TryGetInt64(out long whole))
        {
            id = whole;
            return true;
        }
        double number = value.GetDouble();
        if (double.IsFinite(number) && Math.Floor(number) == number && Math.Abs(number) <= 9007199254740992d)
        {
            id = (long)number;
            return true;
        }
        return false;
    }

    [Fact]
    public void TheMethodOfAValidCommandIsTheOneSystemTextJsonFinds() =>
        Commands.Sample(frame =>
        {
            bool valid = JsonText.FullyReadable(frame, 512, out var document);
            using (document)
            {
                bool admitted = CdpCommandClassifier.TryReadMethod(frame, out var method);
                if (!valid)
                {
                    return;
                }
                var expected = ReferenceMethod(document!.RootElement);
                Assert.Equal(expected is not null, admitted);
                if (admitted)
                {
                    Assert.Equal(expected, method);
                }
            }
        }, iter: FuzzRuns.Iterations, print: Encoding.UTF8.GetString);

    [Fact]
    public void AValidCommandIsReportedWithTheIdAndMethodSystemTextJsonFinds() =>
        Commands.Sample(frame =>
        {
            if (!JsonText.FullyReadable(frame, 512, out var document))
            {
                return;
            }
            using (document)
            {
                var root = document!.RootElement;
                if (ReferenceMethod(root) is not { } method)
                {
                    return;
                }
                var result = CdpCommandClassifier.Classify(frame, method, "c1");
                Assert.NotEqual(ClassifyOutcome.Ignored, result.Outcome);
                bool integral = ReferenceId(root, out long? id);
                if (!integral)
                {
                    Assert.Equal(ClassifyOutcome.Malformed, result.Outcome);
                    return;
                }
                if (result.Outcome != ClassifyOutcome.Reported)
                {
                    return;
                }
                using var payload = JsonDocument.Parse(result.Data!.Utf8Json);
                Assert.Equal(method.Name(), payload.RootElement.GetProperty("method").GetString());
                Assert.Equal("c1", payload.RootElement.GetProperty("connection_id").GetString());
                if (id is { } expected)
                {
                    Assert.Equal(expected, payload.RootElement.GetProperty("command_id").GetInt64());
                }
                else
                {
                    Assert.False(payload.RootElement.TryGetProperty("command_id", out _));
                }
            }
        }, iter: FuzzRuns.Iterations, print: Encoding.UTF8.GetString);

    [Fact]
    public void TheOnePassReaderAndTheDocumentReadEveryCommandAlike() =>
        Gen.OneOf(Commands, MutatedCommands).Sample(frame =>
        {
            // The document path turns away a params name that is no UTF-16 where the one-pass reader skips it: compared on readable text only.
            if (!JsonText.FullyReadable(frame, 512, out var readable))
            {
                return;
            }
            readable!.Dispose();
            foreach (var method in Enum.GetValues<CdpMethod>())
            {
                var onePass = CdpCommandClassifier.Classify(frame, method, "c1");
                CdpCommandClassifier.UseDocumentPath = true;
                try
                {
                    var document = CdpCommandClassifier.Classify(frame, method, "c1");
                    Assert.Equal(document.Outcome, onePass.Outcome);
                    Assert.Equal(document.Data?.ToString(), onePass.Data?.ToString());
                }
                finally
                {
                    CdpCommandClassifier.UseDocumentPath = false;
                }
            }
        }, iter: FuzzRuns.FewIterations / 4, threads: 1, print: Encoding.UTF8.GetString);

    [Fact]
    public void AnyBytesOrBrokenCommandsAreTurnedAwayWithoutThrowing() =>
        Gen.OneOf(Gen.Byte.Array[0, 200], MutatedCommands).Sample(frame =>
        {
            bool admitted = CdpCommandClassifier.TryReadMethod(frame, out var method);
            var result = CdpCommandClassifier.Classify(frame, admitted ? method : CdpMethod.PageNavigate, "c1");
            if (result.Outcome == ClassifyOutcome.Reported)
            {
                using var payload = JsonDocument.Parse(result.Data!.Utf8Json);
            }
            else
            {
                Assert.False(string.IsNullOrEmpty(result.Problem));
            }
        }, iter: FuzzRuns.Iterations, print: Encoding.UTF8.GetString);

    [Theory]
    [InlineData("{\"\\ud800\":1,\"method\":\"Page.navigate\"}")]
    [InlineData("{\"x\":1,\"\\ude00x\":{},\"method\":\"Page.navigate\"}")]
    public void ANameWithALoneSurrogateEscapeIsADifferentNameNotAThrow(string frame)
    {
        var bytes = Encoding.UTF8.GetBytes(frame);
        Assert.True(CdpCommandClassifier.TryReadMethod(bytes, out var method));
        Assert.Equal(CdpMethod.PageNavigate, method);
        Assert.Equal(ClassifyOutcome.Reported, CdpCommandClassifier.Classify(bytes, method, "c1").Outcome);
    }

    [Fact]
    public void AParamsNameWithALoneSurrogateEscapeIsMalformedOnTheDocumentPath()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"method\":\"Page.printToPDF\",\"params\":{\"\\ude00\":\"\"}}");
        CdpCommandClassifier.UseDocumentPath = true;
        try
        {
            Assert.Equal(ClassifyOutcome.Malformed, CdpCommandClassifier.Classify(bytes, CdpMethod.PagePrintToPdf, "c1").Outcome);
        }
        finally
        {
            CdpCommandClassifier.UseDocumentPath = false;
        }
    }

    [Fact]
    public void TheMessageLogReadsAMethodWithALoneSurrogateEscapeWithoutThrowing()
    {
        var header = CdpGateway.Proxy.CdpMessageLog.ReadHeader("{\"id\":3,\"method\":\"\\ud800\"}"u8);
        Assert.Equal(3, header.Id);
    }
}
