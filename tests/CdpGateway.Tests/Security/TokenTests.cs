using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Tests.EndToEnd;
using Xunit.Abstractions;
using static CdpGateway.Tests.Security.GatewayUnderTest;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Security;

/// <summary>
/// Tokens by scope (the CDP port's token cannot control the API when an API token is set) and tokens kept to the gateway
/// (neither the query token nor the client's Authorization or Cookie reaches the browser).
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed class TokenTests(ITestOutputHelper output)
{
    private const string CdpToken = "cdp-token-0123456789";
    private const string ApiToken = "api-token-9876543210";

    private static (string, string) Bearer(string token) => ("Authorization", "Bearer " + token);

    [Fact]
    public async Task TheCdpTokenCannotRestartChromium_TheApiTokenCan()
    {
        await using var gateway = await StartAsync(output, CdpToken, ["--api-token", ApiToken]);
        var restarts = await gateway.RestartsAsync();

        var refused = await SendAsync("POST", gateway.Api("/chromium/restart"), [Bearer(CdpToken)]);
        Assert.Equal(403, refused.Status);
        Assert.Contains("the control endpoints need the API token (--api-token)", refused.Body);
        Assert.Equal(403, (await SendAsync("PATCH", gateway.Api("/telemetry?token=" + CdpToken), [("Content-Type", "application/json")], "{}")).Status);
        var missing = await SendAsync("POST", gateway.Api("/chromium/restart"));
        Assert.Equal(401, missing.Status);
        Assert.Equal("Bearer", missing.Headers["WWW-Authenticate"]);
        Assert.Equal(restarts, await gateway.RestartsAsync());

        Assert.Equal(200, (await SendAsync("POST", gateway.Api("/chromium/restart"), [Bearer(ApiToken)])).Status);
        Assert.Equal(restarts + 1, await gateway.RestartsAsync());
        // Reads take either token; the CDP port only its own.
        Assert.Equal(200, (await SendAsync("GET", gateway.Api("/chromium"), [Bearer(CdpToken)])).Status);
        Assert.Equal(200, (await SendAsync("GET", gateway.Api("/metrics?token=" + ApiToken))).Status);
        Assert.Equal(401, (await SendAsync("GET", gateway.Cdp("/json/version"), [Bearer(ApiToken)])).Status);
        Assert.Equal(200, (await SendAsync("GET", gateway.Cdp("/json/version"), [Bearer(CdpToken)])).Status);
    }

    [Fact]
    public async Task TheTokenNeverReachesChromium_AndTheClientsUrlsStillCarryIt()
    {
        await using var gateway = await StartAsync(output, CdpToken);
        var upgradesBefore = Upgrades(gateway);
        (string, string)[] credentials = [("Cookie", "session=" + CdpToken), ("Authorization", "Bearer " + CdpToken)];

        var list = await SendAsync("GET", gateway.Cdp("/json/list?token=" + CdpToken), credentials);
        Assert.Equal(200, list.Status);
        Assert.Equal(200, (await SendAsync("GET", gateway.Cdp($"/json/version?token={CdpToken}&x=1"), credentials)).Status);
        var created = await SendAsync("PUT", gateway.Cdp($"/json/new?http://x.example/?a=b&token={CdpToken}"), credentials);
        Assert.Equal(200, created.Status);
        Assert.Equal("http://x.example/?a=b", JsonDocument.Parse(created.Body).RootElement.GetProperty("url").GetString());
        // The client's own URLs carry the token on, so it can connect with them.
        var page = new Uri(JsonDocument.Parse(list.Body).RootElement.EnumerateArray().First().GetProperty("webSocketDebuggerUrl").GetString()!);
        Assert.Equal("?token=" + CdpToken, page.Query);
        await EchoThroughAsync(page, ("Cookie", "session=" + CdpToken));
        await EchoThroughAsync(new Uri($"ws://127.0.0.1:{gateway.CdpPort}/devtools/browser/any?token={CdpToken}"), ("Authorization", "Bearer " + CdpToken), ("Cookie", "a=b"));

        await Eventually.TrueAsync(() => Upgrades(gateway) >= upgradesBefore + 2, "the browser saw both upgrades", GatewayProcess.Patience);
        var seen = gateway.BrowserRequests();
        Assert.Contains(seen, r => r.Target == "/json/list");
        Assert.Contains(seen, r => r.Target == "/json/version?x=1");
        Assert.Contains(seen, r => r.Target == "/json/new?http://x.example/?a=b");
        foreach (var (method, target, headers) in seen)
        {
            Assert.DoesNotContain(CdpToken, target);
            Assert.False(headers.ContainsKey("Authorization"), $"{method} {target} carried Authorization");
            Assert.False(headers.ContainsKey("Cookie"), $"{method} {target} carried Cookie");
            Assert.DoesNotContain(headers.Values, v => v.Contains(CdpToken, StringComparison.Ordinal));
        }
    }

    private static async Task EchoThroughAsync(Uri uri, params (string Name, string Value)[] headers)
    {
        using var client = new ClientWebSocket();
        client.Options.KeepAliveInterval = TimeSpan.Zero;
        foreach (var (name, value) in headers)
        {
            client.Options.SetRequestHeader(name, value);
        }
        using var timeout = new CancellationTokenSource(GatewayProcess.Patience);
        await client.ConnectAsync(uri, timeout.Token);
        await client.SendAsync("{\"id\":1}"u8.ToArray(), WebSocketMessageType.Text, true, timeout.Token);
        var buffer = new byte[1024];
        var received = await client.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal("{\"id\":1}", Encoding.UTF8.GetString(buffer, 0, received.Count));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
    }

    /// <summary>Upgrades the browser got: the gateway's own readiness check's and the clients'.</summary>
    private static int Upgrades(GatewayUnderTest gateway) => gateway.BrowserRequests().Count(r => r.Target.StartsWith("/devtools/", StringComparison.Ordinal));
}
