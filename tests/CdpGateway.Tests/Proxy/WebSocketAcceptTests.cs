using System.Security.Cryptography;
using System.Text;
using CdpGateway.Proxy;

namespace CdpGateway.Tests.Proxy;

public sealed class WebSocketAcceptTests
{
    [Fact]
    public void TheAcceptOfRfc6455sOwnExampleKey()
    {
        // RFC 6455 §1.3.
        var accept = WebSocketAccept.Write("dGhlIHNhbXBsZSBub25jZQ=="u8, stackalloc byte[WebSocketAccept.Length]);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Encoding.ASCII.GetString(accept));
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", ClientHandshake.AcceptFor(" dGhlIHNhbXBsZSBub25jZQ== "));
    }

    [Fact]
    public void TheSha1IsTheRuntimesForEveryLengthAroundTheBlockEdges()
    {
        var random = new Random(6455);
        for (int length = 0; length <= 300; length++)
        {
            var message = new byte[length];
            random.NextBytes(message);
            var ours = new byte[WebSocketAccept.Sha1Bytes];
            WebSocketAccept.Sha1(message, ours);
            Assert.True(SHA1.HashData(message).AsSpan().SequenceEqual(ours), $"SHA-1 of {length} bytes differs");
        }
    }

    [Fact]
    public void AKeyTooLongForTheStackIsAnsweredAllTheSame()
    {
        var key = Encoding.ASCII.GetBytes(new string('k', 400));
        var expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(new string('k', 400) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        Assert.Equal(expected, Encoding.ASCII.GetString(WebSocketAccept.Write(key, stackalloc byte[WebSocketAccept.Length])));
    }
}
