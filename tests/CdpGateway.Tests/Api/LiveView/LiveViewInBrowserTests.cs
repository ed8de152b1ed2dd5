using System.Text.Json;
using CdpGateway.Tests.EndToEnd;
using CdpGateway.Tests.Support;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using Pptr = PuppeteerSharp;
using Pw = Microsoft.Playwright;

namespace CdpGateway.Tests.Api.LiveView;

/// <summary>
/// The live view as an operator sees it: the real gateway with Debian's Chromium and <c>--live-view</c>; a Playwright
/// client drives the browser's page through the CDP port while the dashboard, open in a second Chromium of its own,
/// watches that page: the frames show the page's colour, the client's click is drawn where it clicked, and the
/// gateway's own session leaves no trace among the clients or the targets. Screenshots go to TestResults/screenshots.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class LiveViewInBrowserTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task ThePageAClientNavigatesShowsInTheViewer_AndTheClientsClickIsDrawnAtItsCoordinates()
    {
        await using var gateway = Start(output, "--live-view");
        await gateway.WaitHealthyAsync();
        using var playwright = await Pw.Playwright.CreateAsync().WaitAsync(Patience);

        // The client: through the gateway's CDP port, on the browser's own (only) page.
        var client = await playwright.Chromium.ConnectOverCDPAsync(gateway.CdpHttp().ToString()).WaitAsync(Patience);
        var page = client.Contexts[0].Pages.Count > 0 ? client.Contexts[0].Pages[0] : await client.Contexts[0].NewPageAsync().WaitAsync(Patience);
        await page.GotoAsync("data:text/html,<body style='margin:0;background:rgb(0,160,80)'></body>").WaitAsync(Patience);
        var targetsBefore = await JsonListAsync(gateway);
        const string seenByThePage = "document.visibilityState + ' focus=' + document.hasFocus() + ' ' + innerWidth + 'x' + innerHeight";
        var pageStateBefore = await page.EvaluateAsync<string>(seenByThePage).WaitAsync(Patience);
        var target = Assert.Single(JsonDocument.Parse(await Http.GetStringAsync(gateway.ApiHttp("/live/targets"))).RootElement.EnumerateArray());
        var targetId = target.GetProperty("id").GetString()!;

        // The operator: the dashboard in a Chromium of its own, so the watched browser gets no page of the dashboard's.
        await using var operatorBrowser = await LaunchOperatorBrowserAsync(playwright);
        var dashboard = await operatorBrowser.NewPageAsync(new Pw.BrowserNewPageOptions { ViewportSize = new Pw.ViewportSize { Width = 1400, Height = 1100 } });
        var consoleErrors = new List<string>();
        dashboard.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                consoleErrors.Add(message.Text);
            }
        };
        await dashboard.GotoAsync(gateway.ApiHttp("/").ToString()).WaitAsync(Patience);
        await dashboard.WaitForFunctionAsync("id => [...document.querySelectorAll('#live-targets option')].some(o => o.value === id)", targetId)
            .WaitAsync(Patience);
        await dashboard.SelectOptionAsync("#live-targets", targetId).WaitAsync(Patience);
        await dashboard.ClickAsync("#live-watch").WaitAsync(Patience);
        await dashboard.WaitForFunctionAsync("() => Number(document.getElementById('live-canvas').dataset.frames) >= 1").WaitAsync(Patience);

        // The frame is the page: its middle has the page's colour (JPEG leaves a little slack).
        var middle = await dashboard.EvaluateAsync<int[]>("""
            () => { const c = document.getElementById('live-canvas');
                    return [...c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1).data]; }
            """).WaitAsync(Patience);
        output.WriteLine($"viewer pixel in the middle: {string.Join(',', middle)}");
        Assert.InRange(middle[0], 0, 30);
        Assert.InRange(middle[1], 130, 190);
        Assert.InRange(middle[2], 50, 110);
        await ScreenshotAsync(dashboard, "live-view-watching");

        // The client clicks; the viewer draws it at those coordinates.
        await page.Mouse.ClickAsync(200, 150).WaitAsync(Patience);
        await dashboard.WaitForFunctionAsync("() => document.getElementById('live-overlay').dataset.lastPoint === '200,150'").WaitAsync(Patience);
        var canvasPoint = await dashboard.EvaluateAsync<string>("() => document.getElementById('live-overlay').dataset.lastCanvasPoint");
        var (cx, cy) = (int.Parse(canvasPoint.Split(',')[0]), int.Parse(canvasPoint.Split(',')[1]));
        var expected = await dashboard.EvaluateAsync<double[]>("""
            () => { const c = document.getElementById('live-canvas'); return [c.width, c.height]; }
            """);
        var viewport = await page.EvaluateAsync<double[]>("() => [innerWidth, innerHeight]").WaitAsync(Patience);
        output.WriteLine($"click at 200,150 drawn at canvas {cx},{cy} on a {expected[0]}x{expected[1]} frame of a {viewport[0]}x{viewport[1]} viewport");
        Assert.InRange(cx, 200 * expected[0] / viewport[0] - 2, 200 * expected[0] / viewport[0] + 2);
        Assert.InRange(cy, 150 * expected[1] / viewport[1] - 2, 150 * expected[1] / viewport[1] + 2);
        await dashboard.WaitForFunctionAsync("""
            ([x, y]) => { const d = document.getElementById('live-overlay').getContext('2d').getImageData(x, y, 1, 1).data;
                          return d[0] > 200 && d[1] < 80 && d[3] > 200; }
            """, new[] { cx, cy }).WaitAsync(Patience);
        await ScreenshotAsync(dashboard, "live-view-click-drawn");

        // The gateway's own session is no client, opened no target, and changed nothing the page sees.
        Assert.Equal(pageStateBefore, await page.EvaluateAsync<string>(seenByThePage).WaitAsync(Patience));
        Assert.Equal(targetsBefore, await JsonListAsync(gateway));
        var connects = gateway.EventsOfType("cdp_connect");
        Assert.Single(connects);
        using (var status = JsonDocument.Parse(await Http.GetStringAsync(gateway.ApiHttp("/live"))))
        {
            Assert.Equal(1, status.RootElement.GetProperty("screencasts_started").GetInt32());
            Assert.Equal(1, status.RootElement.GetProperty("screencasts").EnumerateArray().Single().GetProperty("viewers").GetInt32());
        }

        // A restart from the API ends the stream with its reason on the page; the operator can pick again.
        using (var restart = await Http.PostAsync(gateway.ApiHttp("/chromium/restart"), null).WaitAsync(TimeSpan.FromSeconds(60)))
        {
            Assert.True(restart.IsSuccessStatusCode, await restart.Content.ReadAsStringAsync());
        }
        await dashboard.WaitForFunctionAsync("() => document.getElementById('live-status').dataset.closeReason === 'browser restarted: pick the page again'")
            .WaitAsync(Patience);
        await dashboard.ClickAsync("#live-refresh").WaitAsync(Patience);
        await dashboard.WaitForFunctionAsync("() => !document.getElementById('live-watch').disabled").WaitAsync(Patience);
        Assert.Contains("browser restarted", await dashboard.TextContentAsync("#live-status").WaitAsync(Patience));
        await ScreenshotAsync(dashboard, "live-view-after-restart");

        // The operator leaves: the screencast stops and the session closes.
        await dashboard.CloseAsync();
        await Eventually.TrueAsync(async () =>
        {
            using var status = JsonDocument.Parse(await Http.GetStringAsync(gateway.ApiHttp("/live")));
            return status.RootElement.GetProperty("screencasts_stopped").GetInt32() == 1 && !status.RootElement.GetProperty("session_open").GetBoolean();
        }, "the screencast stopped with the restart, and no session stayed open");
        Assert.Empty(consoleErrors);
    }

    /// <summary>
    /// Two pages open, so no "only page" could be what places a mark: a Playwright client's click on the watched page B is
    /// drawn at its coordinates, its click on page A (the same browser connection, another session) is drawn nowhere on
    /// B's viewer. On the epoll relay and on the runtime's sockets (<c>CDPGW_EPOLL_RELAY=0</c>).
    /// </summary>
    [Theory]
    [InlineData("epoll")]
    [InlineData("runtime sockets")]
    public async Task WithTwoPagesOpen_AClientsClickIsDrawnOnlyOnThePageItClicked(string relay)
    {
        var environment = relay == "epoll" ? null : new Dictionary<string, string> { ["CDPGW_EPOLL_RELAY"] = "0" };
        await using var gateway = Start(output, _ => ["--live-view"], environment);
        await gateway.WaitHealthyAsync();
        if (environment is not null)
        {
            Assert.Contains("Relaying on the runtime's sockets", gateway.Output);
        }
        using var playwright = await Pw.Playwright.CreateAsync().WaitAsync(Patience);

        var client = await playwright.Chromium.ConnectOverCDPAsync(gateway.CdpHttp().ToString()).WaitAsync(Patience);
        var context = client.Contexts[0];
        var pageA = context.Pages.Count > 0 ? context.Pages[0] : await context.NewPageAsync().WaitAsync(Patience);
        await pageA.GotoAsync("data:text/html,<title>page-a</title><body style='margin:0;background:rgb(200,40,40)'></body>").WaitAsync(Patience);
        var pageB = await context.NewPageAsync().WaitAsync(Patience);
        await pageB.GotoAsync("data:text/html,<title>page-b</title><body style='margin:0;background:rgb(40,40,200)'></body>").WaitAsync(Patience);

        await AssertDrawnOnlyOnPageBAsync(gateway, playwright, relay, () => pageA.Mouse.ClickAsync(300, 200), () => pageB.Mouse.ClickAsync(120, 90));
    }

    /// <summary>The same with Puppeteer, which also drives each page through a flattened session of one browser connection.</summary>
    [Fact]
    public async Task WithTwoPagesOpen_APuppeteerClientsClickIsDrawnOnlyOnThePageItClicked()
    {
        await using var gateway = Start(output, "--live-view");
        await gateway.WaitHealthyAsync();
        using var playwright = await Pw.Playwright.CreateAsync().WaitAsync(Patience);
        var client = await Pptr.Puppeteer.ConnectAsync(new Pptr.ConnectOptions { BrowserURL = gateway.CdpHttp().ToString() }).WaitAsync(Patience);
        try
        {
            var pageA = await client.NewPageAsync().WaitAsync(Patience);
            await pageA.GoToAsync("data:text/html,<title>page-a</title><body style='margin:0;background:rgb(200,40,40)'></body>").WaitAsync(Patience);
            var pageB = await client.NewPageAsync().WaitAsync(Patience);
            await pageB.GoToAsync("data:text/html,<title>page-b</title><body style='margin:0;background:rgb(40,40,200)'></body>").WaitAsync(Patience);

            await AssertDrawnOnlyOnPageBAsync(gateway, playwright, "puppeteer", () => pageA.Mouse.ClickAsync(300, 200), () => pageB.Mouse.ClickAsync(120, 90));
        }
        finally
        {
            // Disconnect, not Dispose: disposing a connected Puppeteer browser closes the shared Chromium.
            client.Disconnect();
        }
    }

    /// <summary>
    /// Watches the page titled <c>page-b</c> from the dashboard in an operator's Chromium, runs the client's click at 300,200 on
    /// page A and then its click at 120,90 on page B, and asserts that B's viewer drew B's click and nothing of A's.
    /// </summary>
    private async Task AssertDrawnOnlyOnPageBAsync(GatewayProcess gateway, Pw.IPlaywright playwright, string label, Func<Task> clickOnA, Func<Task> clickOnB)
    {
        string targetB;
        using (var targets = JsonDocument.Parse(await Http.GetStringAsync(gateway.ApiHttp("/live/targets"))))
        {
            var pages = targets.RootElement.EnumerateArray().ToList();
            Assert.True(pages.Count >= 2, targets.RootElement.GetRawText());
            targetB = pages.Single(p => p.GetProperty("title").GetString() == "page-b").GetProperty("id").GetString()!;
        }

        await using var operatorBrowser = await LaunchOperatorBrowserAsync(playwright);
        var dashboard = await operatorBrowser.NewPageAsync(new Pw.BrowserNewPageOptions { ViewportSize = new Pw.ViewportSize { Width = 1400, Height = 1100 } });
        await dashboard.GotoAsync(gateway.ApiHttp("/").ToString()).WaitAsync(Patience);
        await dashboard.WaitForFunctionAsync("id => [...document.querySelectorAll('#live-targets option')].some(o => o.value === id)", targetB)
            .WaitAsync(Patience);
        await dashboard.SelectOptionAsync("#live-targets", targetB).WaitAsync(Patience);
        await dashboard.ClickAsync("#live-watch").WaitAsync(Patience);
        await dashboard.WaitForFunctionAsync("() => Number(document.getElementById('live-canvas').dataset.frames) >= 1").WaitAsync(Patience);
        // Every click point the viewer draws, in order.
        await dashboard.EvaluateAsync("""
            () => { window.drawnPoints = []; const overlay = document.getElementById('live-overlay');
                    new MutationObserver(() => window.drawnPoints.push(overlay.dataset.lastPoint))
                      .observe(overlay, { attributes: true, attributeFilter: ['data-last-point'] }); }
            """).WaitAsync(Patience);

        // Page A first: its marks, were they misplaced, would reach B's viewer before B's own (one connection, in order).
        await clickOnA().WaitAsync(Patience);
        await clickOnB().WaitAsync(Patience);
        await dashboard.WaitForFunctionAsync("() => document.getElementById('live-overlay').dataset.lastPoint === '120,90'").WaitAsync(Patience);
        var drawn = await dashboard.EvaluateAsync<string[]>("() => window.drawnPoints").WaitAsync(Patience);
        output.WriteLine($"{label}: points drawn on page B's viewer: {string.Join(" ", drawn)}");
        Assert.DoesNotContain("300,200", drawn);
        Assert.All(drawn, point => Assert.Equal("120,90", point));
        await ScreenshotAsync(dashboard, $"live-view-two-pages-{label.Replace(' ', '-')}");

        // Both clicks went out as commands of the one browser connection, each through its page's session.
        var clicks = (await gateway.WaitForEventsAsync("cdp_command", 2, e => DataOf(e) is var d
                && d.GetProperty("method").GetString() == "Input.dispatchMouseEvent" && d.GetProperty("event_type").GetString() == "mousePressed"))
            .Select(DataOf).ToList();
        Assert.Equal(2, clicks.Count);
        Assert.NotEqual(clicks[0].GetProperty("session_id").GetString(), clicks[1].GetProperty("session_id").GetString());
        Assert.Single(clicks.Select(d => d.GetProperty("connection_id").GetString()).Distinct());
        await dashboard.CloseAsync();
    }

    private static async Task<string[]> JsonListAsync(GatewayProcess gateway)
    {
        using var list = JsonDocument.Parse(await Http.GetStringAsync(gateway.CdpHttp("/json/list")));
        return [.. list.RootElement.EnumerateArray().Select(t => t.GetProperty("type").GetString() + " " + t.GetProperty("id").GetString()).Order()];
    }

    private async Task ScreenshotAsync(Pw.IPage page, string name)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".png");
        await page.ScreenshotAsync(new Pw.PageScreenshotOptions { Path = path, FullPage = true }).WaitAsync(Patience);
        output.WriteLine($"screenshot: {path}");
    }

    /// <summary>The operator's own headless Debian Chromium, apart from the watched one.</summary>
    private static Task<Pw.IBrowser> LaunchOperatorBrowserAsync(Pw.IPlaywright playwright) =>
        playwright.Chromium.LaunchAsync(new Pw.BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox"],
        }).WaitAsync(Patience);
}
