using System.Text;
using System.Text.Json;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using Pptr = PuppeteerSharp;
using Pw = Microsoft.Playwright;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// cdp_command as a user sees it: a real automation client drives Debian's Chromium through the gateway, and the
/// events file tells which gestures, keys, navigations and screenshots happened, in order, on which connection,
/// without a trace of what was typed or visited.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed class CommandTelemetryTests(ITestOutputHelper output)
{
    private const string Typed = "sentinel-typed-4711";
    private const string SecretPath = "/sentinel-path-4711";

    // A page with a button that counts clicks and an input to type into; its URL carries a path that must not leak.
    private static readonly string Page = "data:text/html;charset=utf-8," + Uri.EscapeDataString(
        "<title>t</title><button id=b onclick=\"this.textContent=Number(this.textContent)+1\" style=\"position:absolute;left:10px;top:10px;width:100px;height:40px\">0</button>" +
        "<input id=i style=\"position:absolute;left:10px;top:80px\"><!--" + SecretPath + "-->");

    [Fact]
    public async Task PuppeteerClicksTypesNavigatesAndScreenshotsAreReportedByShapeOnly()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();

        var browser = await Pptr.Puppeteer.ConnectAsync(new Pptr.ConnectOptions { BrowserURL = $"http://127.0.0.1:{gateway.CdpPort}" })
            .WaitAsync(Patience);
        try
        {
            var page = await browser.NewPageAsync().WaitAsync(Patience);
            await page.GoToAsync(Page).WaitAsync(Patience);
            await page.Mouse.ClickAsync(40, 30).WaitAsync(Patience);
            Assert.Equal("1", await page.EvaluateExpressionAsync<string>("document.getElementById('b').textContent").WaitAsync(Patience));
            await page.FocusAsync("#i").WaitAsync(Patience);
            await page.Keyboard.TypeAsync(Typed).WaitAsync(Patience);
            await page.Keyboard.PressAsync("Enter").WaitAsync(Patience);
            Assert.Equal(Typed, await page.EvaluateExpressionAsync<string>("document.getElementById('i').value").WaitAsync(Patience));
            await page.ScreenshotDataAsync().WaitAsync(Patience);
            await page.CloseAsync().WaitAsync(Patience);
        }
        finally
        {
            browser.Disconnect();
        }

        var commands = await CommandsOfEndedConnectionsAsync(gateway);

        var navigate = Assert.Single(commands, c => Method(c) == "Page.navigate");
        Assert.Equal("data", navigate.GetProperty("url_scheme").GetString());
        var mouse = commands.Where(c => Method(c) == "Input.dispatchMouseEvent").ToList();
        Assert.Equal(["mousePressed", "mouseReleased"], mouse.Select(m => m.GetProperty("event_type").GetString()).Where(t => t != "mouseMoved"));
        Assert.All(mouse, m => Assert.Equal(40, m.GetProperty("x").GetDouble()));
        Assert.Contains(mouse, m => m.GetProperty("event_type").GetString() == "mousePressed" && m.GetProperty("button").GetString() == "left");
        var keys = commands.Where(c => Method(c) == "Input.dispatchKeyEvent").ToList();
        Assert.True(keys.Count >= 2 * Typed.Length, $"{keys.Count} key events for {Typed.Length} typed characters");
        Assert.Contains(keys, k => k.TryGetProperty("named_key", out var named) && named.GetString() == "Enter");
        Assert.Single(commands, c => Method(c) == "Page.captureScreenshot");
        // In order: navigate, then the click, then typing, then the screenshot.
        int Index(string method) => commands.FindIndex(c => Method(c) == method);
        Assert.True(Index("Page.navigate") < Index("Input.dispatchMouseEvent"));
        Assert.True(Index("Input.dispatchMouseEvent") < Index("Input.dispatchKeyEvent"));
        Assert.True(Index("Input.dispatchKeyEvent") < Index("Page.captureScreenshot"));

        AssertNothingTypedOrVisitedLeaked(gateway);
    }

    [Fact]
    public async Task PlaywrightClickAndFillAreReportedWithLengthsNotText()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();

        using var playwright = await Pw.Playwright.CreateAsync().WaitAsync(Patience);
        var browser = await playwright.Chromium.ConnectOverCDPAsync($"http://127.0.0.1:{gateway.CdpPort}").WaitAsync(Patience);
        try
        {
            var context = browser.Contexts.Count > 0 ? browser.Contexts[0] : await browser.NewContextAsync();
            var page = await context.NewPageAsync().WaitAsync(Patience);
            await page.GotoAsync(Page).WaitAsync(Patience);
            await page.ClickAsync("#b").WaitAsync(Patience);
            await page.FillAsync("#i", Typed).WaitAsync(Patience);
            Assert.Equal("1", await page.TextContentAsync("#b").WaitAsync(Patience));
            Assert.Equal(Typed, await page.InputValueAsync("#i").WaitAsync(Patience));
        }
        finally
        {
            await browser.CloseAsync().WaitAsync(Patience);
        }

        var commands = await CommandsOfEndedConnectionsAsync(gateway);

        Assert.Equal("data", commands.First(c => Method(c) == "Page.navigate").GetProperty("url_scheme").GetString());
        var mouse = commands.Where(c => Method(c) == "Input.dispatchMouseEvent").Select(m => m.GetProperty("event_type").GetString()).ToList();
        Assert.Contains("mousePressed", mouse);
        Assert.Contains("mouseReleased", mouse);
        // fill() inserts the text in one command: reported by its length.
        var insert = Assert.Single(commands, c => Method(c) == "Input.insertText");
        Assert.Equal(Typed.Length, insert.GetProperty("text_length").GetInt32());

        AssertNothingTypedOrVisitedLeaked(gateway);
    }

    private static string Method(JsonElement command) => command.GetProperty("method").GetString()!;

    /// <summary>
    /// Once every connection has its cdp_disconnect: the cdp_command data in file order, each checked to belong to a
    /// connection that has a cdp_connect before it and a cdp_disconnect after it.
    /// </summary>
    private static async Task<List<JsonElement>> CommandsOfEndedConnectionsAsync(GatewayProcess gateway)
    {
        List<JsonElement> events = [];
        List<string> connects = [];
        HashSet<string> ended = [];
        await Eventually.TrueAsync(() =>
        {
            events = gateway.ReadEvents().ToList();
            connects = events.Where(e => Type(e) == "cdp_connect").Select(ConnectionIdOf).ToList();
            ended = events.Where(e => Type(e) == "cdp_disconnect").Select(ConnectionIdOf).ToHashSet();
            return connects.Count > 0 && connects.All(ended.Contains);
        }, () => $"every connection ended; {connects.Count} cdp_connect, {ended.Count} cdp_disconnect:\n{gateway.Output}", Patience);
        var commands = new List<JsonElement>();
        var open = new HashSet<string>();
        foreach (var e in events)
        {
            switch (Type(e))
            {
                case "cdp_connect":
                    open.Add(ConnectionIdOf(e));
                    break;
                case "cdp_disconnect":
                    open.Remove(ConnectionIdOf(e));
                    break;
                case "cdp_command":
                    Assert.Contains(ConnectionIdOf(e), open);
                    commands.Add(DataOf(e));
                    break;
            }
        }
        Assert.All(events.Where(e => Type(e) == "cdp_disconnect").Select(DataOf),
            d => Assert.Equal(0, d.GetProperty("telemetry_dropped").GetInt64()));
        return commands;
    }

    private static string Type(JsonElement envelope) => envelope.GetProperty("event").GetProperty("type").GetString()!;

    private static void AssertNothingTypedOrVisitedLeaked(GatewayProcess gateway)
    {
        string file = File.ReadAllText(gateway.EventsFile, Encoding.UTF8);
        // Both the typed text and the page's hidden path start with it (a number alone could match a timestamp).
        Assert.DoesNotContain("sentinel", file);
        Assert.DoesNotContain("onclick", file);
    }
}
