using System.Net.WebSockets;
using System.Text;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>
/// A client connected while Chromium is down: the gateway keeps dialling for the dial window (on the fake clock,
/// which these tests never move), and a client that gives up meanwhile is let go at once, as leaving.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class ClientLeavesWhileDialingTests
{
    private static async Task<(TestGateway Gateway, ClientWebSocket Client)> ConnectWhileTheBrowserIsDownAsync()
    {
        var gw = await TestGateway.StartAsync(withBrowser: false);
        gw.App.Tracker.Set($"ws://127.0.0.1:{DisconnectScenarioTests.DeadPort()}/devtools/browser/gone");
        var client = await gw.ConnectAsync();
        await gw.WaitForEventAsync(ConnectionEventTypes.Connect);
        return (gw, client);
    }

    [Fact]
    public async Task AClientThatDropsItsSocketMidDial_EndsAsClientCloseWithoutWaitingForTheDial()
    {
        var (gw, client) = await ConnectWhileTheBrowserIsDownAsync();
        await using (gw)
        {
            client.Abort();

            var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);

            Assert.Equal(DisconnectReason.ClientClose.WireName(), data.GetProperty("reason").GetString());
            Assert.Equal(System.Text.Json.JsonValueKind.Null, data.GetProperty("close_code").ValueKind);
            Assert.Equal(0, data.GetProperty("messages_from_client").GetInt64());
        }
    }

    [Fact]
    public async Task AClientThatClosesMidDial_GetsItsCloseAnswered_AndEndsAsClientCloseWithItsCode()
    {
        var (gw, client) = await ConnectWhileTheBrowserIsDownAsync();
        await using (gw)
        {
            // Something sent first is not a reason to miss the close behind it.
            await client.SendTextAsync("{\"id\":1,\"method\":\"Target.getTargets\"}");

            await client.CloseAsync((WebSocketCloseStatus)4000, "giving up", CancellationToken.None).WaitAsync(TestGateway.Patience);

            Assert.Equal(WebSocketState.Closed, client.State);
            Assert.Equal((WebSocketCloseStatus)4000, client.CloseStatus);
            var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
            Assert.Equal(DisconnectReason.ClientClose.WireName(), data.GetProperty("reason").GetString());
            Assert.Equal(4000, data.GetProperty("close_code").GetInt32());
            Assert.Equal(0, data.GetProperty("messages_from_client").GetInt64());
        }
    }

    [Fact]
    public async Task MessagesSentMidDial_ReachTheBrowserInOrderOnceItIsUp()
    {
        var (gw, client) = await ConnectWhileTheBrowserIsDownAsync();
        await using (gw)
        {
            await client.SendTextAsync("{\"id\":1}");
            await client.SendTextAsync("{\"id\":2,\"params\":\"" + new string('x', 20_000) + "\"}");

            await gw.StartBrowserAsync(); // it comes back while the dial waits

            var first = await client.ReceiveMessageAsync();
            var second = await client.ReceiveMessageAsync();
            Assert.Equal("{\"id\":1}", Encoding.UTF8.GetString(first.Data));
            Assert.StartsWith("{\"id\":2,", Encoding.UTF8.GetString(second.Data));
            Assert.Equal(20_020, second.Data.Length);
            Assert.Equal("{\"id\":3}", await client.EchoAsync("{\"id\":3}"));
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
            Assert.Equal(DisconnectReason.ClientClose.WireName(), data.GetProperty("reason").GetString());
            Assert.Equal(3, data.GetProperty("messages_from_client").GetInt64());
        }
    }

    [Fact]
    public async Task AMessageLargerThanTheWatchKeeps_IsStillForwardedWholeOnceTheBrowserIsUp()
    {
        var (gw, client) = await ConnectWhileTheBrowserIsDownAsync();
        await using (gw)
        {
            var large = "{\"id\":1,\"params\":\"" + new string('y', 3 * ClientLeaveWatch.MaxBufferedBytes) + "\"}";
            var sending = client.SendTextAsync(large); // completes as TCP takes it: the watch keeps 1 MiB, the rest waits

            await gw.StartBrowserAsync();
            await sending.WaitAsync(TestGateway.Patience);

            var (_, echoed) = await client.ReceiveMessageAsync();
            Assert.Equal(large, Encoding.UTF8.GetString(echoed));
        }
    }
}
