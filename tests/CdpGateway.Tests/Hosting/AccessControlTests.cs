using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using CdpGateway.Hosting;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Hosting;

[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class AccessControlTests
{
    [Fact]
    public async Task WithATokenEveryEndpointOnBothPortsWantsIt()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Token = "s3cret");
        using var http = new HttpClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(gw.CdpHttp("/json/version"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(gw.ApiHttp("/health"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(gw.CdpHttp("/json/version?token=wrong"))).StatusCode);
        using var refused = new ClientWebSocket();
        refused.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(gw.CdpUri(), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.HttpStatusCode);
        Assert.Empty(gw.AllEvents());

        using var bearer = new HttpRequestMessage(HttpMethod.Get, gw.ApiHttp("/health"));
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(bearer)).StatusCode);
        using var client = await gw.ConnectAsync(configure: o => o.SetRequestHeader("Authorization", "Bearer s3cret"));
        Assert.Equal("{}", await client.EchoAsync("{}"));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/metrics")]
    [InlineData("/telemetry")]
    [InlineData("/chromium")]
    public async Task WithATokenEveryApiPageWantsIt_AndTakesItFromTheQuery(string path)
    {
        await using var gw = await TestGateway.StartAsync(o => o.Token = "s3cret");
        using var http = new HttpClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(gw.ApiHttp(path))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(gw.ApiHttp(path + "?token=s3cret"))).StatusCode);
    }

    [Fact]
    public async Task AQueryTokenIsCarriedIntoEveryRewrittenUrl()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Token = "t/k n");
        using var http = new HttpClient();

        var list = JsonDocument.Parse(await http.GetStringAsync(gw.CdpHttp("/json/list?token=t%2Fk%20n"))).RootElement;

        var page = list.EnumerateArray().Single();
        var wsUrl = page.GetProperty("webSocketDebuggerUrl").GetString()!;
        Assert.EndsWith("?token=t%2Fk%20n", wsUrl);
        Assert.Contains("ws=" + Uri.EscapeDataString($"127.0.0.1:{gw.App.CdpPort}/devtools/page/"), page.GetProperty("devtoolsFrontendUrl").GetString());
        using var client = new ClientWebSocket();
        await client.ConnectAsync(new Uri(wsUrl), CancellationToken.None);
        Assert.Equal("{}", await client.EchoAsync("{}"));
    }

    [Fact]
    public async Task AnUpgradeFromAnOriginOutsideTheListIs403_CdpClientsWithoutOriginPass()
    {
        await using var gw = await TestGateway.StartAsync(o => o.AllowedOrigins = "https://allowed.example");

        using var refused = new ClientWebSocket();
        refused.Options.CollectHttpResponseDetails = true;
        refused.Options.SetRequestHeader("Origin", "https://evil.example");
        await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(gw.CdpUri(), CancellationToken.None));
        Assert.Equal(HttpStatusCode.Forbidden, refused.HttpStatusCode);

        using var allowed = await gw.ConnectAsync(configure: o => o.SetRequestHeader("Origin", "https://allowed.example"));
        Assert.Equal("{}", await allowed.EchoAsync("{}"));
        using var noOrigin = await gw.ConnectAsync();
        Assert.Equal("{}", await noOrigin.EchoAsync("{}"));
    }

    [Fact]
    public async Task WithoutAnAllowListAnyOriginBearingUpgradeIsRefused()
    {
        await using var gw = await TestGateway.StartAsync();
        using var refused = new ClientWebSocket();
        refused.Options.CollectHttpResponseDetails = true;
        refused.Options.SetRequestHeader("Origin", "http://localhost:3000");

        await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(gw.CdpUri(), CancellationToken.None));

        Assert.Equal(HttpStatusCode.Forbidden, refused.HttpStatusCode);
    }

    [Fact]
    public void ANonLoopbackBindWithoutATokenRefusesToStart()
    {
        var options = new GatewayOptions { Bind = "0.0.0.0", CdpPort = 0, ApiPort = 0 };

        var error = Assert.Throws<OptionException>(() => GatewayApp.Create(options, superviseBrowser: false, logging: _ => { }));

        Assert.Contains("--token", error.Message);
    }

    [Theory]
    [InlineData(false, "ws://127.0.0.1:")]
    [InlineData(true, "wss://public.example/")]
    public async Task ForwardedHeadersCountOnlyWhenTrusted(bool trust, string expectedPrefix)
    {
        await using var gw = await TestGateway.StartAsync(o =>
        {
            o.TrustForwardedHeaders = trust;
            o.AllowedHosts = "public.example";
        });
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, gw.CdpHttp("/json/version"));
        request.Headers.Add("X-Forwarded-Host", "public.example");
        request.Headers.Add("X-Forwarded-Proto", "https");

        var version = JsonDocument.Parse(await (await http.SendAsync(request)).Content.ReadAsStringAsync()).RootElement;

        Assert.StartsWith(expectedPrefix, version.GetProperty("webSocketDebuggerUrl").GetString());
    }
}
