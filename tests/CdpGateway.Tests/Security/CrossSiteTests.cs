using CdpGateway.Tests.EndToEnd;
using Xunit.Abstractions;
using static CdpGateway.Tests.Security.GatewayUnderTest;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Security;

/// <summary>
/// A page on another site, with the gateway's real address: it may send "simple" requests without asking first (a form
/// post, text/plain, a navigation, an image) and preflight the rest. None of them may control anything unless its origin
/// is in --allowed-origins; the gateway's own dashboard (same origin) and allowed origins keep working.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed class CrossSiteTests(ITestOutputHelper output)
{
    private const string Evil = "http://evil.example";

    public static TheoryData<string?, string?> SimpleRequestShapes => new()
    {
        { "text/plain", "{\"flags\":[\"--user-agent=pwned\"]}" },
        { "application/x-www-form-urlencoded", "flags=--user-agent%3Dpwned" },
        { "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"flags\"\r\n\r\n--user-agent=pwned\r\n--b--\r\n" },
        { null, null },
    };

    [Fact]
    public async Task CrossSiteSimpleRequestsCannotRestartOrReconfigure()
    {
        await using var gateway = await StartAsync(output);
        var restarts = await gateway.RestartsAsync();

        foreach (var (method, path) in new[] { ("POST", "/chromium/restart"), ("PATCH", "/chromium/flags"), ("PUT", "/chromium/flags"), ("PATCH", "/telemetry"),
            ("DELETE", "/connections/0123456789abcdef") })
        {
            foreach (var shape in SimpleRequestShapes)
            {
                var (contentType, body) = ((string?)shape[0], (string?)shape[1]);
                (string, string)[] headers = contentType is null ? [("Origin", Evil)] : [("Origin", Evil), ("Content-Type", contentType)];

                var answer = await SendAsync(method, gateway.Api(path), headers, body);

                Assert.True(answer.Status == 403, $"{method} {path} {contentType}: {answer}");
                Assert.Contains($"origin '{Evil}' is refused", answer.Body);
                Assert.Contains("--allowed-origins", answer.Body);
                Assert.False(answer.HasCorsHeaders);
            }
        }
        // A navigation or a no-cors fetch carries no Origin, only Sec-Fetch-Site.
        var noOrigin = await SendAsync("POST", gateway.Api("/chromium/restart"), [("Sec-Fetch-Site", "cross-site")]);
        Assert.Equal(403, noOrigin.Status);
        Assert.Contains("Sec-Fetch-Site: cross-site", noOrigin.Body);
        // A sandboxed frame sends Origin: null.
        Assert.Equal(403, (await SendAsync("POST", gateway.Api("/chromium/restart"), [("Origin", "null")])).Status);

        Assert.Equal(restarts, await gateway.RestartsAsync());
        Assert.DoesNotContain("pwned", (await SendAsync("GET", gateway.Api("/chromium/flags"))).Body);
    }

    [Fact]
    public async Task AControlBodyThatIsNotJsonIs415EvenWithoutAnOrigin()
    {
        await using var gateway = await StartAsync(output);

        var answer = await SendAsync("PATCH", gateway.Api("/chromium/flags"), [("Content-Type", "text/plain")], "{\"flags\":[\"--user-agent=pwned\"]}");

        Assert.Equal(415, answer.Status);
        Assert.Contains("'text/plain'", answer.Body);
        Assert.Contains("application/json", answer.Body);
        var json = await SendAsync("PATCH", gateway.Api("/telemetry"), [("Content-Type", "application/json; charset=utf-8")], "{}");
        Assert.True(json.Status == 200, json.ToString());
    }

    [Fact]
    public async Task CrossSiteReadsAndDiscoveryAreRefusedToo()
    {
        await using var gateway = await StartAsync(output);
        var id = await gateway.FirstPageIdAsync();

        // An <img> pointing at /json/close, a fetch of /health or /telemetry/events.
        Assert.Equal(403, (await SendAsync("GET", gateway.Cdp($"/json/close/{id}"), [("Sec-Fetch-Site", "cross-site")])).Status);
        Assert.Equal(403, (await SendAsync("PUT", gateway.Cdp("/json/new?http://evil.example/"), [("Origin", Evil)])).Status);
        Assert.Equal(403, (await SendAsync("GET", gateway.Api("/telemetry/events"), [("Origin", Evil)])).Status);
        Assert.Equal(403, (await SendAsync("GET", gateway.Api("/health"), [("Sec-Fetch-Site", "cross-site")])).Status);
        Assert.Equal("HTTP/1.1 403 Forbidden", await UpgradeStatusLineAsync(gateway.CdpPort, "/devtools/browser/any", "127.0.0.1", $"Origin: {Evil}\r\n"));

        Assert.Equal(id, await gateway.FirstPageIdAsync());
        Assert.DoesNotContain(gateway.BrowserRequests(), r => r.Target.StartsWith("/json/close", StringComparison.Ordinal) || r.Target.StartsWith("/json/new", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ACrossSitePreflightIsRefusedWithoutCorsHeaders()
    {
        await using var gateway = await StartAsync(output, args: ["--allowed-origins", "https://app.example"]);

        foreach (var port in new[] { gateway.Api("/chromium/flags"), gateway.Cdp("/json/new") })
        {
            var answer = await SendAsync("OPTIONS", port, [("Origin", Evil), ("Access-Control-Request-Method", "PATCH"),
                ("Access-Control-Request-Headers", "content-type"), ("Access-Control-Request-Private-Network", "true")]);

            Assert.Equal(403, answer.Status);
            Assert.False(answer.HasCorsHeaders);
        }
        // No answer to an evil origin carries CORS headers either.
        Assert.False((await SendAsync("GET", gateway.Api("/health"), [("Origin", Evil)])).HasCorsHeaders);
    }

    [Fact]
    public async Task AnAllowedOriginGetsCorsAndItsPreflightAnswered()
    {
        const string app = "https://app.example";
        await using var gateway = await StartAsync(output, args: ["--allowed-origins", app]);

        var preflight = await SendAsync("OPTIONS", gateway.Api("/chromium/flags"), [("Origin", app), ("Access-Control-Request-Method", "PATCH"),
            ("Access-Control-Request-Headers", "content-type,authorization"), ("Access-Control-Request-Private-Network", "true")]);
        Assert.Equal(204, preflight.Status);
        Assert.Equal(app, preflight.Headers["Access-Control-Allow-Origin"]);
        Assert.Contains("PATCH", preflight.Headers["Access-Control-Allow-Methods"]);
        Assert.Equal("Authorization, Content-Type, Last-Event-ID", preflight.Headers["Access-Control-Allow-Headers"]);
        Assert.Equal("true", preflight.Headers["Access-Control-Allow-Private-Network"]);
        Assert.Contains("Origin", preflight.Headers["Vary"]);

        var patch = await SendAsync("PATCH", gateway.Api("/telemetry"), [("Origin", app), ("Content-Type", "application/json")], "{}");
        Assert.Equal(200, patch.Status);
        Assert.Equal(app, patch.Headers["Access-Control-Allow-Origin"]);
        Assert.Contains("Origin", patch.Headers["Vary"]);
        var list = await SendAsync("GET", gateway.Cdp("/json/list"), [("Origin", app), ("Sec-Fetch-Site", "cross-site")]);
        Assert.Equal(200, list.Status);
        Assert.Equal(app, list.Headers["Access-Control-Allow-Origin"]);
        Assert.Equal("HTTP/1.1 101 Switching Protocols", await UpgradeStatusLineAsync(gateway.CdpPort, "/devtools/browser/any", "127.0.0.1", $"Origin: {app}\r\n"));
    }

    [Fact]
    public async Task TheDashboardsSameOriginRequestsStillWork()
    {
        await using var gateway = await StartAsync(output);
        var restarts = await gateway.RestartsAsync();
        var self = $"http://127.0.0.1:{gateway.ApiPort}";

        // Opened from the address bar, then its own fetches, EventSource and a same-origin POST.
        Assert.Equal(200, (await SendAsync("GET", gateway.Api("/"), [("Sec-Fetch-Site", "none")])).Status);
        Assert.Equal(200, (await SendAsync("GET", gateway.Api("/chromium"), [("Sec-Fetch-Site", "same-origin")])).Status);
        var restart = await SendAsync("POST", gateway.Api("/chromium/restart"), [("Origin", self), ("Sec-Fetch-Site", "same-origin")]);
        Assert.True(restart.Status == 200, restart.ToString());
        var patch = await SendAsync("PATCH", gateway.Api("/telemetry"), [("Origin", self), ("Sec-Fetch-Site", "same-origin"), ("Content-Type", "application/json")], "{}");
        Assert.Equal(200, patch.Status);
        Assert.False(patch.HasCorsHeaders);

        Assert.Equal(restarts + 1, await gateway.RestartsAsync());
    }
}
