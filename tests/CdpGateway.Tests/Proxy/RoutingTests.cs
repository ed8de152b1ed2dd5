using System.Net;
using System.Net.WebSockets;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>Where upgrades go, what reaches Chromium, and the plain HTTP answers of the DevTools port.</summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class RoutingTests
{
    [Fact]
    public async Task AnyOtherPathAndAStaleBrowserIdReachTheCurrentBrowser_WithoutTheClientsPathQueryOrOrigin()
    {
        await using var gw = await TestGateway.StartAsync(o => o.AllowedOrigins = "http://app.example");
        using var client = await gw.ConnectAsync("/devtools/browser/stale-id-from-before?x=1&token=abc",
            o => o.SetRequestHeader("Origin", "http://app.example"));
        await client.EchoAsync("{}");

        var upgrade = gw.Browser.Upgrades.Single();
        Assert.Equal($"/devtools/browser/{gw.Browser.BrowserId}", upgrade.Path);
        Assert.Equal("", upgrade.QueryString);
        Assert.Null(upgrade.Origin);
        Assert.Equal("browser", (await gw.WaitForEventAsync(ConnectionEventTypes.Connect)).GetProperty("target").GetString());
    }

    [Fact]
    public async Task APagePathReachesThatPageOnTheCurrentChromium()
    {
        await using var gw = await TestGateway.StartAsync();
        var page = gw.Browser.PageIds[0];
        using var client = await gw.ConnectAsync($"/devtools/page/{page}");
        await client.EchoAsync("{}");

        Assert.Equal($"/devtools/page/{page}", gw.Browser.Upgrades.Single().Path);
        Assert.Equal("page", (await gw.WaitForEventAsync(ConnectionEventTypes.Connect)).GetProperty("target").GetString());
    }

    [Fact]
    public async Task APageOfAPreviousChromiumFailsAtOnceWith1011AndUpstreamError()
    {
        await using var gw = await TestGateway.StartAsync();
        var oldPage = gw.Browser.PageIds[0];
        await gw.StartBrowserAsync();

        using var client = await gw.ConnectAsync($"/devtools/page/{oldPage}");
        // No clock advance: a target that no longer exists is not retried.
        Assert.Equal(WebSocketCloseStatus.InternalServerError, await client.WaitForCloseAsync());
        Assert.Equal(DisconnectReason.UpstreamError.WireName(), (await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect)).GetProperty("reason").GetString());
    }

    [Fact]
    public async Task APlainRequestToAWebSocketPathGets400NamingTheProblem()
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();

        var response = await http.GetAsync(gw.CdpHttp("/devtools/browser/x"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("WebSocket upgrade", await response.Content.ReadAsStringAsync());
        Assert.Empty(gw.AllEvents());
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/nope")]
    [InlineData("/json/bogus")]
    [InlineData("/jsonx")]
    [InlineData("/JSON/VERSION")]
    [InlineData("/json/List")]
    [InlineData("/Json")]
    [InlineData("/json/NEW")]
    [InlineData("/json/Activate/some-id")]
    public async Task APlainRequestToAPathThatIsNeitherDiscoveryNorWebSocketGets404AsFromChromium(string path)
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();

        using var response = await http.GetAsync(gw.CdpHttp(path));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains(path, await response.Content.ReadAsStringAsync());
        Assert.Empty(gw.Browser.Requests);
        Assert.Empty(gw.AllEvents());
    }

    [Theory]
    [InlineData("/json/version")]
    [InlineData("/json/version/")]
    [InlineData("/json/list/")]
    [InlineData("/json")]
    public async Task DiscoveryPathsInChromiumsOwnSpellingAreAnswered(string path)
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();

        using var response = await http.GetAsync(gw.CdpHttp(path));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task AnUnknownPathIs404EvenBeforeABrowserIsAnnounced()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        using var http = new HttpClient();

        using var response = await http.GetAsync(gw.CdpHttp("/nope"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/nope")]
    [InlineData("/json/bogus")]
    public async Task AnUpgradeToAnyOtherPathStillReachesTheCurrentBrowser(string path)
    {
        await using var gw = await TestGateway.StartAsync();

        using var client = await gw.ConnectAsync(path);

        Assert.Equal("{}", await client.EchoAsync("{}"));
        Assert.Equal($"/devtools/browser/{gw.Browser.BrowserId}", gw.Browser.Upgrades.Single().Path);
    }

    [Fact]
    public async Task BeyondMaxConnectionsTheUpgradeGets429()
    {
        await using var gw = await TestGateway.StartAsync(o => o.MaxConnections = 1);
        using var first = await gw.ConnectAsync();
        await first.EchoAsync("{}");

        using var second = new ClientWebSocket();
        second.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => second.ConnectAsync(gw.CdpUri(), CancellationToken.None));
        Assert.Equal(HttpStatusCode.TooManyRequests, second.HttpStatusCode);

        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        using var third = await gw.ConnectAsync();
        Assert.Equal("{}", await third.EchoAsync("{}"));
    }
}
