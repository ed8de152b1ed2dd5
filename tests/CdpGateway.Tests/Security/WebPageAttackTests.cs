using System.Globalization;
using System.Text.Json;
using CdpGateway.Tests.EndToEnd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using Pptr = PuppeteerSharp;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Security;

/// <summary>
/// The attacker is a web page in a browser on the gateway's own machine: here Debian's Chromium behind the gateway
/// itself, driven to a page served by a local HTTP server on another origin. The page tries what a page can (simple
/// cross-origin requests, preflighted ones, a WebSocket to the DevTools port, and the same again under a rebound host
/// name) and the browser must come through unharmed.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed class WebPageAttackTests(ITestOutputHelper output)
{
    /// <summary>The host name the attacker's DNS rebinds to 127.0.0.1 (Chromium's resolver rules play the DNS).</summary>
    private const string RebindingHost = "attacker.test";

    [Fact]
    public async Task APageOnAnotherOriginCannotRestartReflagOrOpenTabsOrReachTheDevToolsPort()
    {
        await using var gateway = Start(output, "--chromium-flags", $"--host-resolver-rules=\"MAP {RebindingHost} 127.0.0.1\"");
        await gateway.WaitHealthyAsync();
        await using var site = await AttackerSite.StartAsync(gateway);
        var before = await gateway.GetJsonAsync(gateway.ApiHttp("/chromium"));
        var tabsBefore = (await gateway.GetJsonAsync(gateway.CdpHttp("/json/list"))).GetArrayLength();

        var browser = await Pptr.Puppeteer.ConnectAsync(new Pptr.ConnectOptions { BrowserURL = gateway.CdpHttp().ToString() }).WaitAsync(Patience);
        Dictionary<string, string> results;
        try
        {
            var page = await browser.NewPageAsync().WaitAsync(Patience);
            results = [];
            foreach (var origin in new[] { $"http://127.0.0.1:{site.Port}", $"http://{RebindingHost}:{site.Port}" })
            {
                await page.GoToAsync(origin + "/attack.html").WaitAsync(Patience);
                await page.WaitForFunctionAsync("() => window.attackDone === true").WaitAsync(Patience);
                var json = await page.EvaluateExpressionAsync<string>("JSON.stringify(window.attackResults)").WaitAsync(Patience);
                foreach (var (name, outcome) in JsonSerializer.Deserialize<Dictionary<string, string>>(json)!)
                {
                    results[$"{origin} {name}"] = outcome;
                }
            }
            // The page the client drives is still there: its browser was never restarted under it.
            Assert.Equal(2, await page.EvaluateExpressionAsync<int>("1+1").WaitAsync(Patience));
            await page.CloseAsync().WaitAsync(Patience);
        }
        finally
        {
            browser.Disconnect();
        }
        foreach (var (name, outcome) in results)
        {
            output.WriteLine($"{name}: {outcome}");
        }

        var after = await gateway.GetJsonAsync(gateway.ApiHttp("/chromium"));
        Assert.Equal(before.GetProperty("generation").GetInt64(), after.GetProperty("generation").GetInt64());
        Assert.Equal(0, after.GetProperty("restarts").GetInt64());
        Assert.Equal(0, after.GetProperty("flags").GetArrayLength());
        Assert.False(File.Exists(site.Marker), "a flag the page sent ran a command");
        var telemetry = await gateway.GetJsonAsync(gateway.ApiHttp("/telemetry"));
        Assert.True(telemetry.GetProperty("config").GetProperty("connection").GetProperty("enabled").GetBoolean(), "the page switched telemetry off");
        // The page's own tab came and went; the page opened none of its own.
        Assert.Equal(tabsBefore, (await gateway.GetJsonAsync(gateway.CdpHttp("/json/list"))).GetArrayLength());
        Assert.All(results.Where(r => r.Key.EndsWith("websocket", StringComparison.Ordinal)), r => Assert.NotEqual("open", r.Value));
        Assert.All(results.Where(r => r.Key.EndsWith("read-list", StringComparison.Ordinal)), r => Assert.StartsWith("blocked", r.Value, StringComparison.Ordinal));
    }

    /// <summary>A local HTTP server on its own port, serving the attacker's page.</summary>
    private sealed class AttackerSite : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private AttackerSite(WebApplication app, int port, string marker)
        {
            _app = app;
            Port = port;
            Marker = marker;
        }

        public int Port { get; }

        /// <summary>A file the page's flag would create if Chromium ran it.</summary>
        public string Marker { get; }

        public static async Task<AttackerSite> StartAsync(GatewayProcess gateway)
        {
            var marker = Path.Combine(gateway.Dir.Path, "attacked");
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            app.MapGet("/attack.html", (HttpContext context) =>
            {
                // The page addresses the gateway by the host name it was itself loaded from: under the rebinding name that
                // is the attacker's own name, which its DNS points at the gateway's machine.
                var host = context.Request.Host.Host;
                var page = AttackPage
                    .Replace("API_ORIGIN", $"http://{host}:{gateway.ApiPort.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal)
                    .Replace("CDP_ORIGIN", $"http://{host}:{gateway.CdpPort.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal)
                    .Replace("CDP_WS", $"ws://{host}:{gateway.CdpPort.ToString(CultureInfo.InvariantCulture)}", StringComparison.Ordinal)
                    .Replace("MARKER", marker, StringComparison.Ordinal);
                return Results.Content(page, "text/html; charset=utf-8");
            });
            await app.StartAsync().ConfigureAwait(false);
            var port = new Uri(app.Urls.First()).Port;
            return new AttackerSite(app, port, marker);
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync().ConfigureAwait(false);

        /// <summary>
        /// Each attempt records what the page could learn: "answered STATUS" (readable, so CORS let it through),
        /// "opaque" (a no-cors request was sent; the page cannot see the answer), or "blocked: ..." (the browser refused
        /// to send it or to show its answer).
        /// </summary>
        private const string AttackPage = """
            <!doctype html><title>attacker</title>
            <script>
            window.attackResults = {};
            const api = "API_ORIGIN", cdp = "CDP_ORIGIN", ws = "CDP_WS";
            async function attempt(name, send) {
              try {
                const r = await send();
                window.attackResults[name] = r.type === "opaque" ? "opaque" : "answered " + r.status;
              } catch (e) {
                window.attackResults[name] = "blocked: " + e.message;
              }
            }
            function socket(name, url) {
              return new Promise(done => {
                const s = new WebSocket(url);
                s.onopen = () => { window.attackResults[name] = "open"; s.close(); done(); };
                s.onclose = e => { window.attackResults[name] ??= "closed " + e.code; done(); };
              });
            }
            (async () => {
              const flag = JSON.stringify({ flags: ["--renderer-cmd-prefix=/usr/bin/touch MARKER"] });
              await attempt("restart-text-plain", () => fetch(api + "/chromium/restart", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: "{}" }));
              await attempt("restart-form", () => fetch(api + "/chromium/restart", { method: "POST", mode: "no-cors", body: new URLSearchParams({ a: "b" }) }));
              await attempt("restart-multipart", () => { const f = new FormData(); f.append("a", "b"); return fetch(api + "/chromium/restart", { method: "POST", mode: "no-cors", body: f }); });
              await attempt("restart-no-body", () => fetch(api + "/chromium/restart", { method: "POST", mode: "no-cors" }));
              await attempt("flags-text-plain", () => fetch(api + "/chromium/flags", { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: flag }));
              await attempt("flags-patch-json", () => fetch(api + "/chromium/flags", { method: "PATCH", headers: { "Content-Type": "application/json" }, body: flag }));
              await attempt("flags-put-json", () => fetch(api + "/chromium/flags", { method: "PUT", headers: { "Content-Type": "application/json" }, body: flag }));
              await attempt("telemetry-patch", () => fetch(api + "/telemetry", { method: "PATCH", headers: { "Content-Type": "application/json" }, body: '{"connection":{"enabled":false}}' }));
              await attempt("new-tab", () => fetch(cdp + "/json/new?about:blank", { method: "PUT" }));
              await attempt("new-tab-no-cors", () => fetch(cdp + "/json/new?about:blank", { method: "GET", mode: "no-cors" }));
              await attempt("read-list", () => fetch(cdp + "/json/list").then(r => r.text().then(() => r)));
              await socket("websocket", ws + "/devtools/browser");
              window.attackDone = true;
            })();
            </script>
            """;
    }
}
