using System.Text;
using System.Text.Json;
using CdpGateway.Api;
using CsCheck;
using Microsoft.AspNetCore.Http;

namespace CdpGateway.Tests.Fuzz;

public class JsonBodyProperties
{
    private static JsonBodyError? Read(byte[] body, bool declared)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(body);
        context.Request.ContentLength = declared ? body.Length : null;
        // A MemoryStream completes every read at once, so the task is already done.
        var (kind, error) = JsonBody.ReadAsync(context.Request, root => root.ValueKind, "{}", CancellationToken.None).GetAwaiter().GetResult();
        Assert.True(error is null || kind == JsonValueKind.Undefined);
        return error;
    }

    /// <summary>System.Text.Json's verdict with the reader's own default depth, every string read out.</summary>
    private static void AgreesWithSystemTextJson(byte[] body, bool declared)
    {
        var error = Read(body, declared);
        if (body.Length > JsonBody.MaxBytes)
        {
            Assert.Equal(StatusCodes.Status413PayloadTooLarge, error?.Status);
            return;
        }
        bool valid = JsonText.FullyReadable(body, 64, out var document);
        document?.Dispose();
        Assert.Equal(valid, error is null);
        if (error is null)
        {
            return;
        }
        Assert.Equal(StatusCodes.Status400BadRequest, error.Status);
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            Assert.Equal(JsonBodyProblem.NotUnicode, error.Problem);
        }
        if (body.Length == 0)
        {
            Assert.Equal(JsonBodyProblem.Empty, error.Problem);
        }
    }

    private static readonly Gen<byte[]> Documents = JsonText.Draws.Select(d => Encoding.UTF8.GetBytes(new JsonText(d).Value(0)));

    [Fact]
    public void AJsonBodyIsTakenExactlyWhenSystemTextJsonReadsItAll() =>
        Gen.Select(Gen.OneOf(Documents, Gen.Select(Documents, Gen.Int[0, int.MaxValue].Array[2, 3], JsonText.Mutate)), Gen.Bool)
            .Sample(AgreesWithSystemTextJson, iter: FuzzRuns.Iterations, print: t => Convert.ToHexString(t.Item1));

    [Fact]
    public void AnyBytesGetA400OrAreTakenAsSystemTextJsonTakesThem() =>
        Gen.Select(Gen.Byte.Array[0, 64], Gen.Bool).Sample(AgreesWithSystemTextJson, iter: FuzzRuns.Iterations);

    [Fact]
    public void BodiesAroundTheLimitAreTakenUpToItAndRefusedPastIt() =>
        Gen.Select(Gen.Int[JsonBody.MaxBytes - 3, JsonBody.MaxBytes + 3], Gen.Bool).Sample((size, declared) =>
        {
            var body = new byte[size];
            body.AsSpan().Fill((byte)' ');
            "[]"u8.CopyTo(body);
            var error = Read(body, declared);
            Assert.Equal(size > JsonBody.MaxBytes ? StatusCodes.Status413PayloadTooLarge : (int?)null, error?.Status);
        }, iter: 50);

    [Fact]
    public void DeeplyNestedBodiesAreRefusedWithA400NotAnOverflow()
    {
        var body = Encoding.ASCII.GetBytes(new string('[', 10_000) + new string(']', 10_000));
        Assert.Equal(JsonBodyProblem.NotJson, Read(body, declared: true)?.Problem);
    }
}
