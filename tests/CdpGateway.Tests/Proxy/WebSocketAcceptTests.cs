using System.Security.Cryptography;
using System.Text;
using CdpGateway.Proxy;

namespace CdpGateway.Tests.Proxy;

public sealed class WebSocketAcceptTests
{
    private const string Rfc6455Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>The accept value computed another way: an incremental SHA-1 over the key and then the GUID, base64 by Convert.</summary>
    private static string Independently(string key)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes(key));
        sha1.AppendData(Encoding.ASCII.GetBytes(Rfc6455Guid));
        return Convert.ToBase64String(sha1.GetHashAndReset());
    }

    [Fact]
    public void TheAcceptOfRfc6455sOwnExampleKey()
    {
        // RFC 6455 §1.3.
        var accept = WebSocketAccept.Write("dGhlIHNhbXBsZSBub25jZQ=="u8, stackalloc byte[WebSocketAccept.Length]);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Encoding.ASCII.GetString(accept));
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", ClientHandshake.AcceptFor(" dGhlIHNhbXBsZSBub25jZQ== "));
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Independently("dGhlIHNhbXBsZSBub25jZQ=="));
    }

    [Fact]
    public void RandomKeysAreAnsweredAsAnIndependentComputationAnswersThem()
    {
        var random = new Random(6455);
        var nonce = new byte[16];
        var destination = new byte[WebSocketAccept.Length];
        for (int i = 0; i < 1000; i++)
        {
            random.NextBytes(nonce);
            var key = Convert.ToBase64String(nonce);
            var expected = Independently(key);

            Assert.Equal(expected, Encoding.ASCII.GetString(WebSocketAccept.Write(Encoding.ASCII.GetBytes(key), destination)));
            Assert.Equal(expected, ClientHandshake.AcceptFor("\t" + key + " "));
        }
    }

    [Fact]
    public void KeysOfEveryLengthAroundTheStackLimitAreAnsweredAllTheSame()
    {
        // A client may send any key; the handshake checks its form elsewhere, but no length may break the answer.
        var random = new Random(17);
        var destination = new byte[WebSocketAccept.Length];
        for (int length = 0; length <= 300; length++)
        {
            var key = new string(Enumerable.Range(0, length).Select(_ => (char)random.Next('!', '~' + 1)).ToArray());
            var bytes = Encoding.ASCII.GetBytes(key);

            Assert.Equal(Independently(key), Encoding.ASCII.GetString(WebSocketAccept.Write(bytes, destination)));
        }
    }

    [Fact]
    public void AKeyTooLongForTheStackIsAnsweredAllTheSame()
    {
        var key = new string('k', 400);
        Assert.Equal(Independently(key), Encoding.ASCII.GetString(WebSocketAccept.Write(Encoding.ASCII.GetBytes(key), stackalloc byte[WebSocketAccept.Length])));
        Assert.Equal(Independently(key), ClientHandshake.AcceptFor(key));
    }

    [Fact]
    public void TheAnswerIsAlways28AsciiBytesWrittenAtTheStartOfTheDestination()
    {
        var destination = new byte[WebSocketAccept.Length + 8];
        var accept = WebSocketAccept.Write("dGhlIHNhbXBsZSBub25jZQ=="u8, destination);

        Assert.Equal(WebSocketAccept.Length, accept.Length);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Encoding.ASCII.GetString(destination, 0, WebSocketAccept.Length));
        Assert.All(destination[WebSocketAccept.Length..], b => Assert.Equal(0, b));
    }
}
