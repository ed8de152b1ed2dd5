using System.Text.Json;
using CdpGateway.Tests.EndToEnd;
using Xunit.Abstractions;
using static CdpGateway.Tests.Security.GatewayUnderTest;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Security;

/// <summary>
/// DNS rebinding: a page on a name the attacker owns points that name at 127.0.0.1 and then talks to the gateway as its
/// own origin. Its requests still say which name they used (Host), so a Host that is no IP literal, no localhost and
/// not in --allowed-hosts is refused on both ports, for every request, before anything else is looked at.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed class RebindingTests(ITestOutputHelper output)
{
    private static readonly string[] Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    private static readonly string[] ApiPaths = ["/chromium/restart", "/chromium/flags", "/telemetry", "/health", "/chromium", "/metrics", "/telemetry/events", "/",
        "/connections", "/connections/0123456789abcdef", "/stats"];

    [Fact]
    public async Task RebindingHostIsRefusedOnDiscovery()
    {
        await using var gateway = await StartAsync(output);
        var id = await gateway.FirstPageIdAsync();
        var before = gateway.BrowserRequests().Count;
        (string, string)[] rebound = [("Host", $"evil.example:{gateway.CdpPort}")];

        foreach (var (method, path) in new[] { ("GET", "/json/list"), ("GET", "/json/version"), ("PUT", "/json/new?http://evil.example/"),
            ("GET", $"/json/activate/{id}"), ("GET", $"/json/close/{id}"), ("PUT", $"/json/close/{id}"), ("GET", "/json/protocol") })
        {
            var answer = await SendAsync(method, gateway.Cdp(path), rebound);

            Assert.True(answer.Status == 403, $"{method} {path}: {answer}");
            Assert.Contains($"Host 'evil.example:{gateway.CdpPort}' is refused", answer.Body);
            Assert.Contains("--allowed-hosts", answer.Body);
        }
        Assert.Equal(before, gateway.BrowserRequests().Count);
        Assert.Equal(id, await gateway.FirstPageIdAsync());
    }

    [Fact]
    public async Task LoopbackAndListedHostsStillReachDiscovery()
    {
        await using var gateway = await StartAsync(output, args: ["--allowed-hosts", "gw.test"]);

        foreach (var host in new[] { $"127.0.0.1:{gateway.CdpPort}", $"localhost:{gateway.CdpPort}", $"[::1]:{gateway.CdpPort}", $"GW.test:{gateway.CdpPort}" })
        {
            var answer = await SendAsync("GET", gateway.Cdp("/json/version"), [("Host", host)]);

            Assert.True(answer.Status == 200, $"{host}: {answer}");
            using var version = JsonDocument.Parse(answer.Body);
            Assert.StartsWith($"ws://{host}/devtools/browser/", version.RootElement.GetProperty("webSocketDebuggerUrl").GetString());
        }
        var created = await SendAsync("PUT", gateway.Cdp("/json/new?http://x.example/"), [("Host", "gw.test")]);
        Assert.Equal(200, created.Status);
        var id = JsonDocument.Parse(created.Body).RootElement.GetProperty("id").GetString();
        Assert.Equal(200, (await SendAsync("GET", gateway.Cdp($"/json/close/{id}"), [("Host", "localhost")])).Status);
    }

    [Fact]
    public async Task RebindingHostIsRefusedOnAWebSocketUpgrade_ALoopbackHostIsUpgraded()
    {
        await using var gateway = await StartAsync(output, args: ["--allowed-hosts", "gw.test"]);
        var before = gateway.BrowserRequests().Count;

        Assert.Equal("HTTP/1.1 403 Forbidden", await UpgradeStatusLineAsync(gateway.CdpPort, "/devtools/browser/any", $"evil.example:{gateway.CdpPort}"));
        Assert.Equal("HTTP/1.1 403 Forbidden", await UpgradeStatusLineAsync(gateway.CdpPort, "/devtools/browser/any", $"evil.example:{gateway.CdpPort}",
            $"Origin: http://evil.example:{gateway.CdpPort}\r\n"));
        Assert.Equal(before, gateway.BrowserRequests().Count);

        Assert.Equal("HTTP/1.1 101 Switching Protocols", await UpgradeStatusLineAsync(gateway.CdpPort, "/devtools/browser/any", $"127.0.0.1:{gateway.CdpPort}"));
        Assert.Equal("HTTP/1.1 101 Switching Protocols", await UpgradeStatusLineAsync(gateway.CdpPort, "/devtools/browser/any", "gw.test"));
    }

    [Fact]
    public async Task ARequestWithoutAHostIsRefused()
    {
        await using var gateway = await StartAsync(output);

        foreach (var port in new[] { gateway.CdpPort, gateway.ApiPort })
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            await socket.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
            await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET {(port == gateway.CdpPort ? "/json/list" : "/health")} HTTP/1.0\r\n\r\n"));
            using var stream = new System.Net.Sockets.NetworkStream(socket);
            var answer = await new StreamReader(stream).ReadToEndAsync();

            Assert.StartsWith("HTTP/1.1 403", answer);
            Assert.Contains("without a Host header is refused", answer);
        }
    }

    [Fact]
    public async Task RebindingHostIsRefusedOnEveryApiMethodAndPath()
    {
        await using var gateway = await StartAsync(output);
        var restarts = await gateway.RestartsAsync();
        var host = $"evil.example:{gateway.ApiPort}";

        foreach (var method in Methods)
        {
            foreach (var path in ApiPaths)
            {
                // As the rebound page sends it: its own origin, and JSON (a rebound page may preflight, it is same-origin to itself).
                var answer = await SendAsync(method, gateway.Api(path), [("Host", host), ("Origin", "http://" + host), ("Content-Type", "application/json")],
                    method is "GET" or "DELETE" ? null : """{"flags":["--user-agent=pwned"]}""");

                Assert.True(answer.Status == 403, $"{method} {path}: {answer}");
                Assert.Contains($"Host '{host}' is refused", answer.Body);
                Assert.False(answer.HasCorsHeaders, $"{method} {path} answered CORS headers");
            }
        }
        Assert.Equal(restarts, await gateway.RestartsAsync());
        Assert.DoesNotContain("pwned", (await SendAsync("GET", gateway.Api("/chromium/flags"))).Body);
    }

    [Fact]
    public async Task ALoopbackHostStillControlsTheApi()
    {
        await using var gateway = await StartAsync(output);
        var restarts = await gateway.RestartsAsync();

        var patch = await SendAsync("PATCH", gateway.Api("/chromium/flags"), [("Host", $"localhost:{gateway.ApiPort}"), ("Content-Type", "application/json")],
            """{"flags":["--user-agent=fine"]}""");
        Assert.True(patch.Status == 200, patch.ToString());
        Assert.Equal(200, (await SendAsync("POST", gateway.Api("/chromium/restart"))).Status);

        Assert.True(await gateway.RestartsAsync() >= restarts + 2, "the flag change and the restart both restarted the browser");
        Assert.Contains("fine", (await SendAsync("GET", gateway.Api("/chromium/flags"))).Body);
    }

    [Fact]
    public async Task AForwardedHostCountsOnlyWithTheOption()
    {
        await using (var untrusting = await StartAsync(output, args: ["--allowed-hosts", "public.example"]))
        {
            // Not trusted: not read at all, neither for the check nor for the URLs.
            var answer = await SendAsync("GET", untrusting.Cdp("/json/version"), [("X-Forwarded-Host", "evil.example")]);
            Assert.Equal(200, answer.Status);
            Assert.StartsWith($"ws://127.0.0.1:{untrusting.CdpPort}/", JsonDocument.Parse(answer.Body).RootElement.GetProperty("webSocketDebuggerUrl").GetString());
        }

        await using var trusting = await StartAsync(output, args: ["--allowed-hosts", "public.example", "--trust-forwarded-headers"]);
        var forged = await SendAsync("GET", trusting.Cdp("/json/version"), [("X-Forwarded-Host", "evil.example")]);
        Assert.Equal(403, forged.Status);
        Assert.Contains("X-Forwarded-Host 'evil.example' is refused", forged.Body);
        // A rebound page can add the header itself: the Host must pass whatever it says.
        var rebound = await SendAsync("GET", trusting.Cdp("/json/version"), [("Host", "evil.example"), ("X-Forwarded-Host", "public.example")]);
        Assert.Equal(403, rebound.Status);
        Assert.Equal("HTTP/1.1 403 Forbidden", await UpgradeStatusLineAsync(trusting.CdpPort, "/devtools/browser/any", "127.0.0.1", "X-Forwarded-Host: evil.example\r\n"));

        var proxied = await SendAsync("GET", trusting.Cdp("/json/version"), [("X-Forwarded-Host", "public.example"), ("X-Forwarded-Proto", "https")]);
        Assert.Equal(200, proxied.Status);
        Assert.StartsWith("wss://public.example/devtools/browser/", JsonDocument.Parse(proxied.Body).RootElement.GetProperty("webSocketDebuggerUrl").GetString());
        Assert.Equal("HTTP/1.1 101 Switching Protocols", await UpgradeStatusLineAsync(trusting.CdpPort, "/devtools/browser/any", "127.0.0.1", "X-Forwarded-Host: public.example\r\n"));
    }
}
