using System.Text.Json;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using Pptr = PuppeteerSharp;
using Pw = Microsoft.Playwright;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// The product's promise in one line: point Puppeteer, Playwright or a raw CDP client at the gateway
/// instead of Chromium and it works, and the telemetry says how each connection ended.
/// Gateway as a real process, Debian's Chromium behind it.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed class RealClientTests(ITestOutputHelper output)
{
    private const string DataUrl = "data:text/html,<title>hi</title><h1>gateway</h1>";

    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public async Task PuppeteerConnectsByBrowserUrlDrivesAPageAndItsDisconnectIsAClientClose()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();

        var browser = await Pptr.Puppeteer.ConnectAsync(new Pptr.ConnectOptions { BrowserURL = $"http://127.0.0.1:{gateway.CdpPort}" })
            .WaitAsync(Patience);
        byte[] png;
        try
        {
            var page = await browser.NewPageAsync().WaitAsync(Patience);
            await page.GoToAsync(DataUrl).WaitAsync(Patience);
            Assert.Equal(3, await page.EvaluateExpressionAsync<int>("1+2").WaitAsync(Patience));
            Assert.Equal("hi", await page.GetTitleAsync().WaitAsync(Patience));
            Assert.Equal("gateway", await page.EvaluateExpressionAsync<string>("document.querySelector('h1').textContent").WaitAsync(Patience));
            png = await page.ScreenshotDataAsync().WaitAsync(Patience);
            AssertPng(png);
            await page.CloseAsync().WaitAsync(Patience);
        }
        finally
        {
            // Disconnect, not Dispose: disposing a connected Puppeteer browser closes the shared Chromium.
            browser.Disconnect();
        }

        var disconnects = await AssertEveryConnectionEndsByClientCloseAsync(gateway);
        // The screenshot travelled upstream-to-client through the relay (base64, so larger than the PNG).
        Assert.Contains(disconnects, d => d.GetProperty("bytes_from_upstream").GetInt64() > png.Length);
        Assert.All(disconnects, d => Assert.True(d.GetProperty("messages_from_client").GetInt64() > 0));
    }

    [Fact]
    public async Task TheDashboardOpenedInChromiumThroughTheGatewayShowsItsOwnConnectionLive()
    {
        await using var gateway = Start(output, "--token", "s3cret");
        gateway.Token = "s3cret";
        await gateway.WaitHealthyAsync();

        var browser = await Pptr.Puppeteer.ConnectAsync(new Pptr.ConnectOptions
        {
            BrowserWSEndpoint = gateway.CdpWs("/devtools/browser/any?token=s3cret").ToString(),
        }).WaitAsync(Patience);
        try
        {
            var page = await browser.NewPageAsync().WaitAsync(Patience);
            await page.GoToAsync(gateway.ApiHttp("/?token=s3cret").ToString()).WaitAsync(Patience);

            // The page's event list fills from /telemetry/stream and its cards from /chromium and /metrics: this very
            // connection is there, and the browser is ready.
            await page.WaitForFunctionAsync(
                "() => document.querySelector('#events tr[data-type=\"cdp_connect\"]') !== null" +
                " && document.getElementById('chromium-state').textContent === 'ready'" +
                " && Number(document.getElementById('connections-open').textContent) >= 1" +
                " && document.getElementById('stream-state').textContent === 'live'").WaitAsync(Patience);
            Assert.Equal("", await page.EvaluateExpressionAsync<string>("document.getElementById('problem').textContent").WaitAsync(Patience));
            await page.CloseAsync().WaitAsync(Patience);
        }
        finally
        {
            browser.Disconnect();
        }
    }

    [Fact]
    public async Task PlaywrightConnectsOverCdpDrivesAPageAndClosingItIsAClientCloseThatLeavesChromiumRunning()
    {
        await using var gateway = Start(output);
        var browserUrl = await gateway.WaitHealthyAsync();

        using var playwright = await Pw.Playwright.CreateAsync().WaitAsync(Patience);
        var browser = await playwright.Chromium.ConnectOverCDPAsync($"http://127.0.0.1:{gateway.CdpPort}").WaitAsync(Patience);
        byte[] png;
        try
        {
            var context = browser.Contexts.Count > 0 ? browser.Contexts[0] : await browser.NewContextAsync();
            var page = await context.NewPageAsync().WaitAsync(Patience);
            await page.GotoAsync(DataUrl).WaitAsync(Patience);
            Assert.Equal(3, await page.EvaluateAsync<int>("1+2").WaitAsync(Patience));
            Assert.Equal("hi", await page.TitleAsync().WaitAsync(Patience));
            Assert.Equal("gateway", await page.TextContentAsync("h1").WaitAsync(Patience));
            png = await page.ScreenshotAsync().WaitAsync(Patience);
            AssertPng(png);
        }
        finally
        {
            await browser.CloseAsync().WaitAsync(Patience);
        }

        var disconnects = await AssertEveryConnectionEndsByClientCloseAsync(gateway);
        Assert.Contains(disconnects, d => d.GetProperty("bytes_from_upstream").GetInt64() > png.Length);
        // A client leaving is not a reason to restart the browser other clients share.
        Assert.Equal(browserUrl, (await gateway.HealthAsync()).DevToolsUrl);
    }

    [Fact]
    public async Task ARawClientOnAPageUrlFromJsonListEvaluatesThroughTheGateway()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();

        var pageUrl = await gateway.FirstPageUrlAsync();
        // Discovery hands out the gateway's address, not Chromium's.
        Assert.Equal("127.0.0.1", pageUrl.Host);
        Assert.Equal(gateway.CdpPort, pageUrl.Port);
        Assert.StartsWith("/devtools/page/", pageUrl.AbsolutePath, StringComparison.Ordinal);

        using (var socket = await CdpSocket.ConnectAsync(pageUrl))
        {
            var result = await socket.CallAsync("Runtime.evaluate", """{"expression":"6*7","returnByValue":true}""");
            Assert.Equal(42, result.GetProperty("result").GetProperty("value").GetInt32());
            await socket.CloseAsync();
            Assert.Equal(1000, (int?)socket.Socket.CloseStatus);
        }

        var connect = Assert.Single(await gateway.WaitForEventsAsync("cdp_connect"));
        Assert.Equal("page", DataOf(connect).GetProperty("target").GetString());
        var disconnect = await gateway.WaitForDisconnectAsync(ConnectionIdOf(connect));
        Assert.Equal("client_close", disconnect.GetProperty("reason").GetString());
        Assert.Equal(1000, disconnect.GetProperty("close_code").GetInt32());
        Assert.Equal(1, disconnect.GetProperty("messages_from_client").GetInt64());
        Assert.Equal(1, disconnect.GetProperty("messages_from_upstream").GetInt64());
    }

    private static void AssertPng(byte[] png)
    {
        Assert.True(png.Length > 100, $"a screenshot of {png.Length} bytes");
        Assert.Equal(PngSignature, png[..PngSignature.Length]);
    }

    /// <summary>Waits until every cdp_connect in the events file has its cdp_disconnect; each must say client_close.</summary>
    private static async Task<IReadOnlyList<JsonElement>> AssertEveryConnectionEndsByClientCloseAsync(GatewayProcess gateway)
    {
        List<string> connects = [];
        List<JsonElement> disconnects = [];
        await Eventually.TrueAsync(() =>
        {
            connects = gateway.EventsOfType("cdp_connect").Select(ConnectionIdOf).ToList();
            disconnects = gateway.EventsOfType("cdp_disconnect").ToList();
            return connects.Count > 0 && disconnects.Count >= connects.Count;
        }, () => $"a cdp_disconnect for each cdp_connect; {connects.Count} cdp_connect but {disconnects.Count} cdp_disconnect in the events file:\n{gateway.Output}",
            Patience);
        Assert.Equal(connects.Order(), disconnects.Select(ConnectionIdOf).Order());
        var data = disconnects.Select(DataOf).ToList();
        Assert.All(data, d => Assert.Equal("client_close", d.GetProperty("reason").GetString()));
        return data;
    }
}
