using System.Text;
using System.Text.Json;
using CdpGateway.Api;
using Microsoft.AspNetCore.Http;

namespace CdpGateway.Tests.Api;

public sealed class JsonBodyTests
{
    private static HttpRequest Request(Stream body, long? contentLength)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = body;
        context.Request.ContentLength = contentLength;
        return context.Request;
    }

    private static Task<(JsonValueKind Value, JsonBodyError? Error)> ReadAsync(byte[] body, long? contentLength) =>
        JsonBody.ReadAsync(Request(new MemoryStream(body), contentLength), root => root.ValueKind, "{}", CancellationToken.None);

    private static byte[] PaddedObject(int length) => Encoding.ASCII.GetBytes("{}" + new string(' ', length - 2));

    [Fact]
    public async Task ABodyOfExactlyTheLimitIsRead()
    {
        var (value, error) = await ReadAsync(PaddedObject(JsonBody.MaxBytes), contentLength: null);
        Assert.Null(error);
        Assert.Equal(JsonValueKind.Object, value);
    }

    [Fact]
    public async Task AChunkedBodyOneByteOverTheLimitIs413()
    {
        var (_, error) = await ReadAsync(PaddedObject(JsonBody.MaxBytes + 1), contentLength: null);
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, error?.Status);
        Assert.Contains("64 KiB", error!.Message);
    }

    [Fact]
    public async Task AContentLengthOverTheLimitIs413WithoutReadingTheBody()
    {
        var (_, error) = await JsonBody.ReadAsync(Request(new UnreadableStream(), JsonBody.MaxBytes + 1), root => root.ValueKind, "{}", CancellationToken.None);
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, error?.Status);
    }

    [Theory]
    [InlineData(new byte[0], JsonBodyProblem.Empty)]
    [InlineData(new byte[] { (byte)'{', (byte)'"', 0xff, (byte)'"', (byte)':', (byte)'1', (byte)'}' }, JsonBodyProblem.NotUnicode)]
    [InlineData(new byte[] { (byte)'"', 0xed, 0xa0, 0x80, (byte)'"' }, JsonBodyProblem.NotUnicode)]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'a' }, JsonBodyProblem.NotJson)]
    public async Task ABodyThatIsNotJsonTextIsABadRequest(byte[] body, JsonBodyProblem problem)
    {
        var (_, error) = await ReadAsync(body, body.Length);
        Assert.Equal(StatusCodes.Status400BadRequest, error?.Status);
        Assert.Equal(problem, error!.Problem);
    }

    [Theory]
    [InlineData("""{"a":"\ud800"}""")]
    [InlineData("""{"\udc00":1}""")]
    [InlineData("""["ok","x\ud83dy"]""")]
    public async Task ALoneSurrogateEscapeIsABadRequestNamingIt(string json)
    {
        var (_, error) = await ReadAsync(Encoding.UTF8.GetBytes(json), contentLength: null);
        Assert.Equal(JsonBodyProblem.NotUnicode, error?.Problem);
        Assert.Contains("lone surrogate", error!.Message);
    }

    [Fact]
    public async Task APairedSurrogateEscapeIsFine()
    {
        var (value, error) = await ReadAsync(Encoding.UTF8.GetBytes("""{"a":"\ud83d\ude00"}"""), contentLength: null);
        Assert.Null(error);
        Assert.Equal(JsonValueKind.Object, value);
    }

    private sealed class UnreadableStream : MemoryStream
    {
        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("the body was read");

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("the body was read");
    }
}
