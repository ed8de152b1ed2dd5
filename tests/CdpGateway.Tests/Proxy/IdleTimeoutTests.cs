using System.Net.WebSockets;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>
/// <c>--idle-timeout</c> on the fake clock: a connection over which no data message moves is closed by the gateway, one
/// with traffic is not. Run on both relay paths (<c>CDPGW_EPOLL_RELAY=0</c> for the runtime's sockets).
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class IdleTimeoutTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Step = Timeout / 16;

    [Fact]
    public async Task AConnectionWithNoDataForTheIdleTimeout_IsClosedWith1001IdleTimeout_AndItsBrowserLegAndSlotAreGivenBack()
    {
        await using var gw = await TestGateway.StartAsync(o => o.IdleTimeout = Timeout);
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var lastData = gw.Clock.GetUtcNow();

        var closed = await gw.AdvanceUntilAsync(client.WaitForCloseAsync(), Step);

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, closed);
        Assert.Equal(CloseCodes.IdleTimeoutText, client.CloseStatusDescription);
        var idleFor = gw.Clock.GetUtcNow() - lastData;
        Assert.True(idleFor >= Timeout, $"closed after {idleFor} without data");
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.ContextCancelled.WireName(), data.GetProperty("reason").GetString());
        Assert.Equal(1001, data.GetProperty("close_code").GetInt32());
        Assert.Equal(1, data.GetProperty("messages_from_client").GetInt64());
        await Eventually.TrueAsync(() => gw.Browser.OpenSockets == 0 && gw.Services<ConnectionLimiter>().Open == 0, "both legs closed");
    }

    [Fact]
    public async Task EchoedMessages_KeepAConnectionOpenPastTheIdleTimeout()
    {
        await using var gw = await TestGateway.StartAsync(o => o.IdleTimeout = Timeout);
        using var client = await gw.ConnectAsync();
        var started = gw.Clock.GetUtcNow();

        // Never a whole timeout without a message, for several timeouts: every echo still comes back.
        while (gw.Clock.GetUtcNow() - started < 4 * Timeout)
        {
            Assert.Equal("{}", await client.EchoAsync("{}"));
            for (var quiet = TimeSpan.Zero; quiet < Timeout * 3 / 4; quiet += Step)
            {
                gw.Clock.Advance(Step);
            }
        }

        Assert.Equal("{}", await client.EchoAsync("{}"));
        Assert.Empty(gw.EventsOfType(ConnectionEventTypes.Disconnect));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        var data = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(DisconnectReason.ClientClose.WireName(), data.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task WithoutAnIdleTimeout_AQuietConnectionStaysOpen()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");

        gw.Clock.Advance(TimeSpan.FromDays(1));

        Assert.Equal("{}", await client.EchoAsync("{}"));
        Assert.Empty(gw.EventsOfType(ConnectionEventTypes.Disconnect));
    }
}
