using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>What <c>cdp_connect</c> tells an operator about who connected.</summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class ConnectEventTests
{
    [Fact]
    public async Task CdpConnect_NamesTheClientsAddressAndPort_SoAConnectionCanBeTracedToItsClient()
    {
        await using var gw = await TestGateway.StartAsync();
        using var first = await RawCdpClient.UpgradeAsync(gw.App.CdpPort);
        using var second = await RawCdpClient.UpgradeAsync(gw.App.CdpPort, path: "/devtools/page/" + gw.Browser.PageIds[0]);

        var connects = new[] { await gw.WaitForEventAsync(ConnectionEventTypes.Connect, 1), await gw.WaitForEventAsync(ConnectionEventTypes.Connect, 2) };

        var addresses = connects.Select(c => c.GetProperty("client_address").GetString()).Order().ToArray();
        Assert.Equal(new[] { first.LocalEndPoint.ToString(), second.LocalEndPoint.ToString() }.Order().ToArray(), addresses);
        first.Dispose();
        second.Dispose();
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect, 2);
    }
}
