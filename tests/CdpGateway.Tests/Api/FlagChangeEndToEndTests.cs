using System.Net;
using System.Text;
using System.Text.Json;
using CdpGateway.Tests.EndToEnd;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using Pptr = PuppeteerSharp;
using Pw = Microsoft.Playwright;

namespace CdpGateway.Tests.Api;

/// <summary>
/// PATCH /chromium/flags against the real gateway process and Debian's Chromium, with Puppeteer and
/// Playwright connected: they are moved off the old browser at once (upstream_changed), and reconnecting
/// to the same http endpoint reaches the new browser, which runs with the new flag.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class FlagChangeEndToEndTests(ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(120) };

    [Fact]
    public async Task ANewUserAgentMovesConnectedClientsToABrowserThatHasIt()
    {
        const string agent = "CdpGatewayTest/1.0 (flags; e2e)";
        await using var gateway = Start(output);
        var before = await gateway.WaitHealthyAsync();
        var endpoint = $"http://127.0.0.1:{gateway.CdpPort}";

        var puppeteer = await Pptr.Puppeteer.ConnectAsync(new Pptr.ConnectOptions { BrowserURL = endpoint }).WaitAsync(Patience);
        var puppeteerGone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        puppeteer.Disconnected += (_, _) => puppeteerGone.TrySetResult();
        using var playwright = await Pw.Playwright.CreateAsync().WaitAsync(Patience);
        var pwBrowser = await playwright.Chromium.ConnectOverCDPAsync(endpoint).WaitAsync(Patience);
        var playwrightGone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pwBrowser.Disconnected += (_, _) => playwrightGone.TrySetResult();
        var page = await puppeteer.NewPageAsync().WaitAsync(Patience);
        Assert.NotEqual(agent, await page.EvaluateExpressionAsync<string>("navigator.userAgent").WaitAsync(Patience));
        var connects = gateway.EventsOfType("cdp_connect").Select(ConnectionIdOf).ToList();
        Assert.NotEmpty(connects);

        var started = DateTime.UtcNow;
        using var response = await Http.PatchAsync(gateway.ApiHttp("/chromium/flags"),
            new StringContent(JsonSerializer.Serialize(new { flags = new[] { "--user-agent=" + agent } }), Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"PATCH answered {(int)response.StatusCode}: {body}");
        using var answer = JsonDocument.Parse(body);
        var newUrl = answer.RootElement.GetProperty("devtools_url").GetString();
        Assert.NotEqual(before, newUrl);
        output.WriteLine($"flag change answered after {(DateTime.UtcNow - started).TotalMilliseconds:0} ms (elapsed_ms {answer.RootElement.GetProperty("elapsed_ms")})");

        // Both clients were dropped when the old browser went, well before the new one was ready.
        await Task.WhenAll(puppeteerGone.Task, playwrightGone.Task).WaitAsync(TimeSpan.FromSeconds(5));
        foreach (var id in connects)
        {
            var disconnect = await gateway.WaitForDisconnectAsync(id);
            Assert.Equal("upstream_changed", disconnect.GetProperty("reason").GetString());
        }
        var exited = await gateway.WaitForEventsAsync("chromium_exited");
        Assert.Equal("restart", DataOf(exited[0]).GetProperty("cause").GetString());

        // The same endpoint now reaches the new browser, which runs with the new user agent.
        var again = await Pptr.Puppeteer.ConnectAsync(new Pptr.ConnectOptions { BrowserURL = endpoint }).WaitAsync(Patience);
        try
        {
            var fresh = await again.NewPageAsync().WaitAsync(Patience);
            Assert.Equal(agent, await fresh.EvaluateExpressionAsync<string>("navigator.userAgent").WaitAsync(Patience));
            Assert.Equal(agent, (await again.GetUserAgentAsync().WaitAsync(Patience)));
        }
        finally
        {
            again.Disconnect();
        }
        var pwAgain = await playwright.Chromium.ConnectOverCDPAsync(endpoint).WaitAsync(Patience);
        try
        {
            var context = pwAgain.Contexts.Count > 0 ? pwAgain.Contexts[0] : await pwAgain.NewContextAsync();
            var pwPage = await context.NewPageAsync().WaitAsync(Patience);
            Assert.Equal(agent, await pwPage.EvaluateAsync<string>("navigator.userAgent").WaitAsync(Patience));
        }
        finally
        {
            await pwAgain.CloseAsync().WaitAsync(Patience);
        }

        // Persisted in the data dir for the next gateway.
        Assert.Contains(agent, await File.ReadAllTextAsync(Path.Combine(gateway.DataDir, "flags.json")));
    }
}
