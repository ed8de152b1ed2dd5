using System.Text;
using CdpGateway.Telemetry.Nats;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>JetStream's publish replies as the sink reads them: stored, a duplicate, an error, or something else.</summary>
public sealed class NatsPubAckReaderTests
{
    private static NatsPubAck Read(string json) => NatsPubAckReader.Read(7, Encoding.UTF8.GetBytes(json));

    [Fact]
    public void StoredAck_IsStored_UnderItsId()
    {
        var ack = Read("""{"stream":"CDP","seq":42}""");

        Assert.Equal(7, ack.Id);
        Assert.True(ack.Stored);
        Assert.False(ack.Duplicate);
        Assert.Null(ack.Error);
    }

    [Fact]
    public void DuplicateAck_IsStoredAndMarkedDuplicate()
    {
        var ack = Read("""{"stream":"CDP","domain":"x","seq":42,"duplicate":true}""");

        Assert.True(ack.Stored);
        Assert.True(ack.Duplicate);
    }

    [Fact]
    public void ErrorReply_CarriesItsCodesAndDescription()
    {
        var ack = Read("""{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}""");

        Assert.False(ack.Stored);
        Assert.NotNull(ack.Error);
        Assert.Equal(400, ack.Error.Code);
        Assert.Equal(10054, ack.Error.ErrCode);
        Assert.Equal("message size exceeds maximum allowed", ack.Error.Description);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"seq":1}""")]
    [InlineData("""{"stream":""")]
    public void ReplyThatIsNeitherAckNorError_IsNeither_AndDoesNotThrow(string reply)
    {
        var ack = Read(reply);

        Assert.False(ack.Stored);
        Assert.Null(ack.Error);
    }

    [Theory]
    [InlineData("""{"stream":"CDP", "seq":42}""", false)]
    [InlineData("""{"stream":"CDP", "seq":42,"duplicate": true}""", true)]
    [InlineData("""{"stream":"CDP","seq":42}""", false)]
    public void NatsServersOwnAckBytes_AreReadWithoutTheJsonReader(string reply, bool duplicate)
    {
        Assert.True(NatsPubAckReader.TryReadPlainAck(Encoding.UTF8.GetBytes(reply), out bool readDuplicate));
        Assert.Equal(duplicate, readDuplicate);

        var ack = Read(reply);
        Assert.True(ack.Stored);
        Assert.Equal(duplicate, ack.Duplicate);
        Assert.Null(ack.Error);
    }

    [Theory]
    [InlineData("""{"stream":"CDP","seq":42,"duplicate":false}""", true, false)]
    [InlineData("""{"stream":"CDP", "domain":"hub", "seq":42}""", true, false)]
    [InlineData("""{"stream":"C\"D", "seq":42}""", true, false)]
    [InlineData("""{ "stream":"CDP", "seq":42 }""", true, false)]
    [InlineData("""{"stream":"CDP", "seq":42, "duplicate":true, "domain":"hub"}""", true, true)]
    [InlineData("""{"stream":"CDP", "seq":"42"}""", true, false)]
    [InlineData("""{"stream":"CDP", "seq":42,"error":{"code":503}}""", false, false)]
    [InlineData("""{"stream":"CDP", "seq":}""", false, false)]
    public void AckInAnyOtherForm_GetsTheJsonReadersAnswer(string reply, bool stored, bool duplicate)
    {
        Assert.False(NatsPubAckReader.TryReadPlainAck(Encoding.UTF8.GetBytes(reply), out _));

        var ack = Read(reply);
        Assert.Equal(stored, ack.Stored);
        Assert.Equal(duplicate, ack.Duplicate);
    }
}
