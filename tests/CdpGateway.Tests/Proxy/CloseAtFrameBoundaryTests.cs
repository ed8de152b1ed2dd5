using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>
/// A close frame of the gateway's goes to the client only between frames: when the browser's answers are still on their
/// way to a client that is slow to read them, the frame in flight is finished first, and when it cannot be (the browser
/// went away in the middle of it) the client gets no close frame at all, and <c>close_code</c> says so.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class CloseAtFrameBoundaryTests
{
    // The command's text around the expression the fake browser echoes.
    private const int Envelope = 63;

    /// <summary>
    /// Sends commands whose answers (the fake browser echoes them) are large, without reading, until the answers have
    /// started to arrive: the gateway is then in the middle of writing one to a client that does not take it.
    /// </summary>
    private static async Task<RawCdpClient> SlowReaderWithAnswersQueuedAsync(TestGateway gw, int answers, int answerBytes)
    {
        var client = await RawCdpClient.UpgradeAsync(gw.App.CdpPort, receiveBuffer: 4096);
        var text = "{\"id\":1,\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":\"" + new string('x', answerBytes - Envelope) + "\"}}";
        var frame = Frames.Text(text, masked: true);
        for (var i = 0; i < answers; i++)
        {
            await client.SendAsync(frame);
        }
        await Eventually.TrueAsync(() => client.Available > 0, "an answer reaching the client");
        return client;
    }

    [Fact]
    public async Task AClientThatClosesWhileLargeAnswersAreQueued_GetsWholeFramesThenTheEchoOfItsClose()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await SlowReaderWithAnswersQueuedAsync(gw, answers: 6, answerBytes: 1024 * 1024);

        await client.SendAsync(Frames.Close(1000, "done", masked: true));
        var stream = await client.ReadFrameStreamAsync();

        Assert.Equal(0, stream.Trailing);
        Assert.Equal(1000, stream.CloseCode);
        Assert.All(stream.DataFrames, length => Assert.Equal(1024 * 1024, length));
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal("client_close", data.GetProperty("reason").GetString());
        Assert.Equal(1000, data.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public async Task ABrowserThatDiesInTheMiddleOfAnAnswer_LeavesNoCloseFrameInsideIt_AndCloseCodeSaysWhatTheClientGot()
    {
        await using var gw = await TestGateway.StartAsync();
        // One answer larger than what the kernel's buffers hold between the gateway and the client: the gateway is
        // in the middle of it when the browser goes.
        using var client = await SlowReaderWithAnswersQueuedAsync(gw, answers: 1, answerBytes: 12 * 1024 * 1024);

        gw.Browser.AbortAll();
        var stream = await client.ReadFrameStreamAsync();

        var data = await gw.AdvanceUntilAsync(gw.WaitForEventAsync(ConnectionEventTypes.Disconnect), TimeSpan.FromSeconds(1));
        Assert.Equal("upstream_error", data.GetProperty("reason").GetString());
        Assert.Empty(stream.DataFrames);
        if (stream.CloseCode is { } received)
        {
            // Ours came between two frames: the client got it whole.
            Assert.Equal(0, stream.Trailing);
            Assert.Equal(received, data.GetProperty("close_code").GetInt32());
        }
        else
        {
            Assert.Equal(System.Text.Json.JsonValueKind.Null, data.GetProperty("close_code").ValueKind);
        }
    }
}
