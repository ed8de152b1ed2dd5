using CdpGateway.Tests.EndToEnd;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using Pptr = PuppeteerSharp;

namespace CdpGateway.Tests.Api;

/// <summary>
/// The dashboard as an operator sees it: the real gateway with Debian's Chromium, whose own page (opened through the
/// gateway by PuppeteerSharp) loads the dashboard from the API port and must show the browser and live events, and keep
/// whatever a client put into an event as text.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DashboardInBrowserTests(ITestOutputHelper output)
{
    /// <summary>A frame id a client chose: cdp_command reports ids as sent (clipped), so the page gets it verbatim.</summary>
    private const string Markup = "<img src=x onerror=window.__pwned=1>";

    [Fact]
    public async Task TheDashboardShowsTheBrowserAndLiveEvents_AndAClientsMarkupInAnEventStaysText()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();
        var browser = await Pptr.Puppeteer.ConnectAsync(new Pptr.ConnectOptions { BrowserURL = gateway.CdpHttp().ToString() }).WaitAsync(Patience);
        try
        {
            var page = await browser.NewPageAsync().WaitAsync(Patience);
            await page.GoToAsync(gateway.ApiHttp("/").ToString()).WaitAsync(Patience);

            await page.WaitForFunctionAsync("() => document.getElementById('chromium-state').textContent === 'ready'").WaitAsync(Patience);
            // This very client's connection, live from the event stream and the metrics.
            await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#events tr')].some(r => r.dataset.type === 'cdp_connect')")
                .WaitAsync(Patience);
            await page.WaitForFunctionAsync("() => Number(document.getElementById('connections-open').textContent) >= 1").WaitAsync(Patience);

            var session = await page.CreateCDPSessionAsync().WaitAsync(Patience);
            try
            {
                await session.SendAsync("Page.navigate", new Dictionary<string, object> { ["url"] = "about:blank", ["frameId"] = Markup })
                    .WaitAsync(Patience);
            }
            catch (Pptr.PuppeteerException)
            {
                // Chromium knows no such frame; the command was still relayed and reported.
            }
            await page.WaitForFunctionAsync("m => document.getElementById('events').textContent.includes(m)", Markup).WaitAsync(Patience);
            Assert.Equal(0, await page.EvaluateExpressionAsync<int>("document.querySelectorAll('#events img').length").WaitAsync(Patience));
            Assert.False(await page.EvaluateExpressionAsync<bool>("window.__pwned === 1").WaitAsync(Patience));

            // Unticking a category hides its rows, and only those.
            await page.ClickAsync("input[data-category=control]").WaitAsync(Patience);
            Assert.True(await page.EvaluateExpressionAsync<bool>(
                "[...document.querySelectorAll('#events tr')].every(r => r.hidden === (r.dataset.category === 'control'))").WaitAsync(Patience));
        }
        finally
        {
            browser.Disconnect();
        }
    }
}
