using System.Net.WebSockets;
using System.Text;
using CdpGateway.Proxy;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>Headers read from the wire, masking, close payloads.</summary>
public sealed class FrameHeaderTests
{
    [Theory]
    [InlineData(0, false, 2)]
    [InlineData(125, true, 6)]
    [InlineData(126, false, 4)]
    [InlineData(65535, true, 8)]
    [InlineData(65536, false, 10)]
    [InlineData(1_000_000, true, 14)]
    public void EveryLengthFormReadsBackAndNeedsItsWholeHeader(int payloadLength, bool masked, int headerLength)
    {
        var frame = Frames.Build(FrameOpcode.Binary, new byte[payloadLength], masked);

        for (var have = 0; have < headerLength; have++)
        {
            Assert.False(FrameHeader.TryRead(frame.AsSpan(0, have), out _));
        }
        Assert.True(FrameHeader.TryRead(frame.AsSpan(0, headerLength), out var header));
        Assert.Equal(headerLength, header.Length);
        Assert.Equal(payloadLength, header.PayloadLength);
        Assert.Equal(masked, header.Masked);
        Assert.True(header.Fin);
        Assert.Equal(FrameOpcode.Binary, header.Opcode);
        Assert.Equal(masked ? BitConverter.ToInt32(Frames.Key) : 0, header.MaskKey);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(125L)]
    [InlineData(126L)]
    [InlineData(65536L)]
    public void AnUnmaskedHeaderWrittenReadsBack(long payloadLength)
    {
        var buffer = new byte[FrameHeader.MaxLength];
        var length = FrameHeader.WriteUnmasked(buffer, FrameOpcode.Text, fin: false, payloadLength);

        Assert.True(FrameHeader.TryRead(buffer.AsSpan(0, length), out var header));
        Assert.Equal(new FrameHeader(false, 0, FrameOpcode.Text, false, 0, payloadLength, length), header);
    }

    [Fact]
    public void MaskingFromAnyOffsetMatchesByteByByteXor()
    {
        var random = new Random(5);
        var key = new byte[] { 0x01, 0x80, 0x7F, 0xFE };
        var keyInt = BitConverter.ToInt32(key);
        foreach (var length in new[] { 0, 1, 3, 4, 5, 31, 32, 33, 100, 1000 })
        {
            for (var offset = 0; offset < 8; offset++)
            {
                var data = new byte[length];
                random.NextBytes(data);
                var expected = data.Select((b, i) => (byte)(b ^ key[(i + offset) % 4])).ToArray();

                PayloadMask.Apply(data, keyInt, offset);

                Assert.Equal(expected, data);
            }
        }
    }

    [Fact]
    public void ACloseFrameWrittenByUsReadsBackAndIsCutToAControlFrame()
    {
        var buffer = new byte[CloseFrame.MaxFrameBytes];
        var longReason = string.Concat(Enumerable.Repeat("\u00e9", 100)); // 200 bytes of UTF-8

        var length = CloseFrame.Write(buffer, (WebSocketCloseStatus)1012, longReason);

        Assert.True(CloseFrame.TryRead(buffer.AsSpan(0, length), out var status, out var reason));
        Assert.Equal((WebSocketCloseStatus)1012, status);
        Assert.Equal(string.Concat(Enumerable.Repeat("\u00e9", 61)), reason); // 2 + 122 bytes: whole characters only
        Assert.True(FrameHeader.TryRead(buffer, out var header) && header.PayloadLength <= FrameHeader.MaxControlPayload);
    }

    [Theory]
    [InlineData(999, false)]
    [InlineData(1000, true)]
    [InlineData(1004, false)]
    [InlineData(1006, false)]
    [InlineData(1011, true)]
    [InlineData(1014, true)]
    [InlineData(1015, false)]
    [InlineData(2999, false)]
    [InlineData(3000, true)]
    [InlineData(4999, true)]
    [InlineData(5000, false)]
    public void CloseCodesFollowTheRfc(int code, bool valid)
    {
        var frame = Frames.Close(code, "r", masked: true);

        Assert.Equal(valid, CloseFrame.TryRead(frame, out _, out _));
    }

    [Fact]
    public void AMaskedCloseIsUnmaskedToRead()
    {
        var frame = Frames.Close(1001, "away", masked: true);

        Assert.True(CloseFrame.TryRead(frame, out var status, out var reason));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status);
        Assert.Equal("away", reason);
        Assert.False(CloseFrame.TryRead(Encoding.ASCII.GetBytes("\x88"), out _, out _));
    }
}
