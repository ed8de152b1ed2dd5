using System.Net;
using System.Text.Json;
using CdpGateway.Proxy;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Proxy;

/// <summary>Discovery answers come from the current Chromium, rewritten to the gateway as the client addressed it.</summary>
public sealed class DiscoveryTests
{
    [Theory]
    [InlineData("/json/version")]
    [InlineData("/json/version/")]
    public async Task VersionPointsAtTheGatewayByTheClientsHost(string path)
    {
        await using var gw = await TestGateway.StartAsync(o => o.AllowedHosts = "gateway.example");
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, gw.CdpHttp(path));
        request.Headers.Host = "gateway.example:9999";

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal($"ws://gateway.example:9999/devtools/browser/{gw.Browser.BrowserId}", json.GetProperty("webSocketDebuggerUrl").GetString());
        Assert.Equal("FakeChromium/1.0", json.GetProperty("Browser").GetString());
    }

    [Theory]
    [InlineData("/json")]
    [InlineData("/json/")]
    [InlineData("/json/list")]
    [InlineData("/json/list/")]
    public async Task ListRewritesEveryTargetUrlAndTheFrontendWsParameter(string path)
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();

        var json = JsonDocument.Parse(await http.GetStringAsync(gw.CdpHttp(path))).RootElement;

        var page = json.EnumerateArray().Single();
        var id = page.GetProperty("id").GetString();
        var authority = $"127.0.0.1:{gw.App.CdpPort}";
        Assert.Equal($"ws://{authority}/devtools/page/{id}", page.GetProperty("webSocketDebuggerUrl").GetString());
        Assert.Equal($"/devtools/inspector.html?ws={authority}/devtools/page/{id}", page.GetProperty("devtoolsFrontendUrl").GetString());
    }

    [Fact]
    public async Task NewActivateCloseAndProtocolAreAnsweredByChromium()
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();

        using var created = await http.PutAsync(gw.CdpHttp("/json/new?about:blank"), null);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var page = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var id = page.GetProperty("id").GetString()!;
        Assert.StartsWith($"ws://127.0.0.1:{gw.App.CdpPort}/devtools/page/", page.GetProperty("webSocketDebuggerUrl").GetString());

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(gw.CdpHttp($"/json/activate/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(gw.CdpHttp($"/json/close/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(gw.CdpHttp("/json/close/no-such-id"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(gw.CdpHttp("/json/protocol"))).StatusCode);
    }

    [Fact]
    public async Task BeforeChromiumIsUpDiscoveryIs503WithAClearBody()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        using var http = new HttpClient();

        var response = await http.GetAsync(gw.CdpHttp("/json/list"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("Chromium has not announced", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public void FrontendUrlRewriteKeepsOtherParametersAndThePath()
    {
        var rewritten = DiscoveryEndpoints.RewriteFrontendUrl(
            "https://chrome-devtools-frontend.appspot.com/serve_rev/@1/inspector.html?remoteFrontend=true&ws=127.0.0.1%3A4444%2Fdevtools%2Fpage%2Fnested",
            new GatewayAddress("ws", "gw:9222", null));

        Assert.Equal("https://chrome-devtools-frontend.appspot.com/serve_rev/@1/inspector.html?remoteFrontend=true&ws=gw:9222/devtools/page/nested", rewritten);
    }
}
