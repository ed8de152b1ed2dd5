using System.Text.Json;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>
/// What a client sends before its browser is reached is held to the relay's rules: the same protocol checks, the same
/// size limit, the same close frame. Each case runs with the dial held (the browser is down and the fake clock never
/// ends the dial window) and with the browser up (the relay reads the frame), and must come out the same. Run on both
/// relay paths (<c>CDPGW_EPOLL_RELAY=0</c> for the runtime's sockets).
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class ClientFramesWhileDialingTests
{
    private const long Limit = 4096;

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in Refused().Keys)
        {
            data.Add(name, true);
            data.Add(name, false);
        }
        return data;
    }

    private static Dictionary<string, (byte[] Frame, int Code, string Text)> Refused() => new()
    {
        ["fragmented close"] = (Support.Frames.Build(FrameOpcode.Close, [0x03, 0xE8], masked: true, fin: false), 1002,
            CloseCodes.ProtocolErrorText + "fragmented or oversized control frame"),
        ["close with a 126-byte payload"] = (Support.Frames.Build(FrameOpcode.Close, [0x03, 0xE8, .. new byte[124]], masked: true), 1002,
            CloseCodes.ProtocolErrorText + "fragmented or oversized control frame"),
        ["unmasked frame"] = (Support.Frames.Text("{\"id\":1}", masked: false), 1002, CloseCodes.ProtocolErrorText + "client frames must be masked"),
        ["reserved bit"] = (Support.Frames.Build(FrameOpcode.Text, [], masked: true, rsv: 4), 1002,
            CloseCodes.ProtocolErrorText + "reserved bits set without an extension"),
        ["close with a one-byte payload"] = (Support.Frames.Build(FrameOpcode.Close, [0x03], masked: true), 1002,
            CloseCodes.ProtocolErrorText + "invalid close frame"),
        ["oversize message"] = (Support.Frames.HeaderOnly(FrameOpcode.Binary, 1 << 20, masked: true), 1009,
            $"{CloseCodes.TooLargeText}{1 << 20} > {Limit}"),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AFrameTheRelayRefuses_IsRefusedTheSameWayWhileTheBrowserIsDialled(string name, bool dialHeld)
    {
        var (frame, code, text) = Refused()[name];
        await using var gw = await StartAsync(dialHeld);
        using var client = await RawCdpClient.UpgradeAsync(gw.App.CdpPort);
        await gw.WaitForEventAsync(ConnectionEventTypes.Connect);
        // A message first: it is no reason to miss what comes behind it.
        await client.SendAsync([.. Support.Frames.Text("{\"id\":0}", masked: true), .. frame]);

        var close = await client.ReadCloseAsync();

        Assert.Equal((code, text), close);
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.ClientClose.WireName(), data.GetProperty("reason").GetString());
        Assert.True(await client.ClosedByPeerWithinAsync(CdpConnectionHandler.CloseGrace + TimeSpan.FromSeconds(1)));
    }

    /// <param name="path">
    /// A <c>/devtools/</c> path is upgraded on the gateway's own path where the epoll relay runs; any other goes through
    /// Kestrel's upgrade.
    /// </param>
    [Theory]
    [InlineData(true, "/devtools/browser/any")]
    [InlineData(false, "/devtools/browser/any")]
    [InlineData(true, "/")]
    [InlineData(false, "/")]
    public async Task AnOversizeHeaderInThePacketOfTheUpgrade_Gets1009_AndTheSocketAndItsSlotAreGivenBackWithinTheCloseGrace(bool dialHeld, string path)
    {
        await using var gw = await StartAsync(dialHeld);
        var started = TimeProvider.System.GetTimestamp();
        using var client = await RawCdpClient.UpgradeAsync(gw.App.CdpPort, Support.Frames.HeaderOnly(FrameOpcode.Binary, 1 << 20, masked: true), path);

        var close = await client.ReadCloseAsync();
        var closedByGateway = await client.ClosedByPeerWithinAsync(CdpConnectionHandler.CloseGrace + TimeSpan.FromSeconds(1));

        Assert.Equal((1009, $"{CloseCodes.TooLargeText}{1 << 20} > {Limit}"), close);
        Assert.True(closedByGateway, $"still open {TimeProvider.System.GetElapsedTime(started)} after the upgrade");
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.ClientClose.WireName(), data.GetProperty("reason").GetString());
        await Eventually.TrueAsync(() => gw.Services<ConnectionLimiter>().Open == 0, "no connection left open");
        Assert.Equal(0, (await MetricsScrape.FromAsync(gw))["cdp_gateway_connections_open"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AClientThatKeepsSendingItsOversizeMessageAfterThe1009_IsStillLetGoWithinTheCloseGrace(bool dialHeld)
    {
        await using var gw = await StartAsync(dialHeld);
        using var client = await RawCdpClient.UpgradeAsync(gw.App.CdpPort, Support.Frames.HeaderOnly(FrameOpcode.Binary, 1L << 40, masked: true));
        using var stopSending = new CancellationTokenSource();
        // The announced payload never ends: the gateway always has more to read while it waits for a close reply.
        var sending = client.SendUntilRefusedAsync(stopSending.Token);

        var close = await client.ReadCloseAsync();
        var closedByGateway = await client.ClosedByPeerWithinAsync(CdpConnectionHandler.CloseGrace + TimeSpan.FromSeconds(1));
        await stopSending.CancelAsync();
        await sending;

        Assert.Equal(1009, close.Code);
        Assert.True(closedByGateway);
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        await Eventually.TrueAsync(() => gw.Services<ConnectionLimiter>().Open == 0, "no connection left open");
    }

    private static async Task<TestGateway> StartAsync(bool dialHeld)
    {
        var gw = await TestGateway.StartAsync(o => o.MaxMessageBytes = Limit, withBrowser: !dialHeld);
        if (dialHeld)
        {
            gw.App.Tracker.Set($"ws://127.0.0.1:{DisconnectScenarioTests.DeadPort()}/devtools/browser/gone");
        }
        return gw;
    }
}
