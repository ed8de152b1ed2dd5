using System.Diagnostics;
using System.Text;
using System.Text.Json;
using CdpGateway.Tests.EndToEnd;
using CdpGateway.Tests.Support;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using Pw = Microsoft.Playwright;

namespace CdpGateway.Tests.Api;

/// <summary>
/// The operator console (<c>GET /</c>) as an operator on call uses it: the real gateway with Debian's Chromium, the
/// page open in a Chromium of its own (Playwright), raw CDP clients coming and going through the CDP port. Every
/// request the page makes is recorded and must go to the API port; its console must stay free of errors other than
/// the API's deliberate refusals. Screenshots of each state go to TestResults/screenshots/console-*.png.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class OperatorConsoleInBrowserTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private static readonly TimeSpan WithinASecond = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task TheConsoleFollowsClientsAndTheBrowserLive_AndItsButtonsActThroughTheApi()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();
        await using var console = await OperatorConsole.OpenAsync(gateway, "/", output);
        var page = console.Page;

        await page.WaitForFunctionAsync("() => document.getElementById('chromium-state').textContent === 'ready'").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => document.getElementById('stream-state').textContent === 'live'").WaitAsync(Patience);
        Assert.Empty(console.Errors);
        await console.ScreenshotAsync("console-loaded");

        // A client connects: its row appears within a second, and its counters follow its traffic.
        using (var client = await CdpSocket.ConnectAsync(gateway.CdpWs()))
        {
            var connected = Stopwatch.StartNew();
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#connections tr[data-id]').length === 1").WaitAsync(Patience);
            var appeared = connected.Elapsed;
            var id = await page.EvaluateAsync<string>("() => document.querySelector('#connections tr[data-id]').dataset.id");
            output.WriteLine($"connection {id} in the table {appeared.TotalMilliseconds:F0} ms after the client's handshake");
            Assert.True(appeared < WithinASecond, $"the row took {appeared.TotalMilliseconds:F0} ms");
            Assert.Contains(gateway.EventsOfType("cdp_connect"), e => ConnectionIdOf(e) == id);

            await client.CallAsync("Browser.getVersion");
            await page.WaitForFunctionAsync("""
                id => { const cells = document.querySelector(`#connections tr[data-id="${id}"]`).cells;
                        return cells[5].textContent === '1' && cells[6].textContent === '1' && cells[2].textContent.startsWith('127.0.0.1:'); }
                """, id).WaitAsync(Patience);
            await console.ScreenshotAsync("console-client-connected");

            await client.CloseAsync();
            var left = Stopwatch.StartNew();
            await page.WaitForFunctionAsync("id => !document.querySelector(`#connections tr[data-id=\"${id}\"]`)", id).WaitAsync(Patience);
            output.WriteLine($"connection {id} left the table {left.Elapsed.TotalMilliseconds:F0} ms after the client's close");
            Assert.Equal("client_close", DataOf((await gateway.WaitForEventsAsync("cdp_disconnect", 1, e => ConnectionIdOf(e) == id))[0])
                .GetProperty("reason").GetString());
        }

        // Charts are drawn from /stats: every series has a point per second since the gateway started, and the canvas is painted.
        await page.WaitForFunctionAsync("() => Number(document.getElementById('chart-open').dataset.points) >= 5").WaitAsync(Patience);
        foreach (var chart in new[] { "chart-open", "chart-churn", "chart-messages", "chart-bytes", "chart-commands" })
        {
            var painted = await page.EvaluateAsync<int>("""
                id => { const c = document.getElementById(id); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }
                """, chart);
            var points = await page.EvaluateAsync<int>("id => Number(document.getElementById(id).dataset.points)", chart);
            output.WriteLine($"{chart}: {points} points, {painted} painted pixels");
            Assert.True(points >= 5, $"{chart} drew {points} points");
            Assert.True(painted > 100, $"{chart} painted {painted} pixels");
        }
        await console.ScreenshotAsync("console-charts");

        // The close button: the client gets 1008, the event says context_cancelled by the operator, the page shows the answer.
        using (var client = await CdpSocket.ConnectAsync(gateway.CdpWs()))
        {
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#connections tr[data-id]').length === 1").WaitAsync(Patience);
            var id = await page.EvaluateAsync<string>("() => document.querySelector('#connections tr[data-id]').dataset.id");
            var closeSeen = client.WaitForCloseAsync(Patience);
            await page.ClickAsync($"#connections tr[data-id=\"{id}\"] button.close-connection").WaitAsync(Patience);
            Assert.Equal(1008, await closeSeen);
            var disconnect = await gateway.WaitForDisconnectAsync(id);
            Assert.Equal("context_cancelled", disconnect.GetProperty("reason").GetString());
            Assert.Equal("operator", disconnect.GetProperty("cancelled_by").GetString());
            await page.WaitForFunctionAsync("id => !document.querySelector(`#connections tr[data-id=\"${id}\"]`)", id).WaitAsync(Patience);
            await page.WaitForFunctionAsync("() => document.getElementById('connections-answer').textContent.includes('\"closed\":true')").WaitAsync(Patience);
            // Its event is in the table with its key fields as columns.
            await page.WaitForFunctionAsync("""
                id => [...document.querySelectorAll('#events tr[data-type=cdp_disconnect]')]
                        .some(r => r.cells[3].textContent === id && r.cells[4].textContent === 'context_cancelled' && r.cells[5].textContent === '1008')
                """, id).WaitAsync(Patience);
            await console.ScreenshotAsync("console-connection-closed");
        }

        // A telemetry switch is the server's: GET /telemetry changes with it, and back.
        await page.ClickAsync("input[data-server-category=control]").WaitAsync(Patience);
        await Eventually.TrueAsync(async () => !await ControlEnabledAsync(gateway), "GET /telemetry saying control is off");
        await page.WaitForFunctionAsync("() => document.getElementById('telemetry-answer').textContent.includes('\"control\":{\"enabled\":false')")
            .WaitAsync(Patience);
        Assert.True(await page.IsCheckedAsync("input[data-category=control]"), "the page's own filter is another switch");
        await console.ScreenshotAsync("console-telemetry-control-off");
        await page.ClickAsync("input[data-server-category=control]").WaitAsync(Patience);
        await Eventually.TrueAsync(() => ControlEnabledAsync(gateway), "GET /telemetry saying control is on again");

        // Excluded methods: a method the gateway does not report is refused in its words, a reported one is excluded.
        var errorsBeforeExclusions = console.Errors.Count;
        await page.FillAsync("#excluded-methods", "No.suchMethod").WaitAsync(Patience);
        await page.ClickAsync("#excluded-apply").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => /^exclude No\\.suchMethod: 400 .*No\\.suchMethod/.test(document.getElementById('telemetry-answer').textContent)")
            .WaitAsync(Patience);
        output.WriteLine($"telemetry answer on the page: {await page.TextContentAsync("#telemetry-answer")}");
        await page.FillAsync("#excluded-methods", "Page.navigate, Input.insertText").WaitAsync(Patience);
        await page.ClickAsync("#excluded-apply").WaitAsync(Patience);
        await Eventually.TrueAsync(async () => (await gateway.GetJsonAsync(gateway.ApiHttp("/telemetry"))).GetProperty("config").GetProperty("control")
            .GetProperty("cdp").GetProperty("excluded_methods").GetArrayLength() == 2, "GET /telemetry listing the two exclusions");
        await page.WaitForFunctionAsync("() => document.getElementById('excluded-methods').value === 'Page.navigate\\nInput.insertText'").WaitAsync(Patience);
        Assert.All(console.Errors.Skip(errorsBeforeExclusions), e => Assert.Contains("status of 400", e));

        // A flag the policy refuses: the page shows the API's own words.
        string refusal;
        using (var request = new HttpRequestMessage(HttpMethod.Patch, gateway.ApiHttp("/chromium/flags"))
        {
            Content = new StringContent("""{"flags":["--remote-debugging-address=0.0.0.0"]}""", Encoding.UTF8, "application/json"),
        })
        using (var answer = await Http.SendAsync(request))
        {
            Assert.Equal(400, (int)answer.StatusCode);
            refusal = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
        }
        var errorsBeforeRefusal = console.Errors.Count;
        await page.FillAsync("#flags-editor", "--remote-debugging-address=0.0.0.0").WaitAsync(Patience);
        await page.ClickAsync("#flags-merge").WaitAsync(Patience);
        await page.WaitForFunctionAsync("m => document.getElementById('flags-answer').textContent === '400 ' + m", refusal).WaitAsync(Patience);
        output.WriteLine($"flags answer on the page: {await page.TextContentAsync("#flags-answer")}");
        await console.ScreenshotAsync("console-flags-refused");
        // The browser logs the refused request itself; that is the only console error it may cause.
        Assert.All(console.Errors.Skip(errorsBeforeRefusal), e => Assert.Contains("status of 400", e));

        // A restart from the button: the transition log shows restarting, then ready, driven by the events (Chromium's
        // exit, its successor's chromium_started and chromium_ready), each reloading /chromium once: no polling.
        var generation = (await gateway.GetJsonAsync(gateway.ApiHttp("/chromium"))).GetProperty("generation").GetInt64();
        var errorsBeforeRestart = console.Errors.Count;
        var requestsBeforeRestart = console.Requests.Count;
        var clicked = System.Diagnostics.Stopwatch.StartNew();
        await page.ClickAsync("#chromium-restart").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => document.querySelector('#transitions li[data-state=restarting]') !== null").WaitAsync(Patience);
        await page.WaitForFunctionAsync("""
            () => { const states = [...document.querySelectorAll('#transitions li[data-state]:not([data-replayed])')].map(li => li.dataset.state);
                    return states[0] === 'ready' && states.indexOf('restarting') > 0; }
            """).WaitAsync(TimeSpan.FromSeconds(90));
        await page.WaitForFunctionAsync("g => document.getElementById('chromium-gen').textContent === String(g)", generation + 1).WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#transitions li')].some(li => li.textContent.includes('chromium_exited restart'))")
            .WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => document.getElementById('restart-answer').textContent.startsWith('ready: generation')").WaitAsync(Patience);
        await page.WaitForFunctionAsync("g => [...document.querySelectorAll('#transitions li')].some(li => li.textContent.includes('chromium_ready: generation ' + g))",
            generation + 1).WaitAsync(Patience);
        var restartTook = clicked.Elapsed;
        var statusReads = console.Requests.Skip(requestsBeforeRestart).Count(r => new Uri(r).AbsolutePath == "/chromium");
        output.WriteLine($"GET /chromium {statusReads} times in the {restartTook.TotalMilliseconds:0} ms of the restart from the button");
        // One per event (exit, start, ready) and one for the restart's answer; a poll every 200 ms would add one per tick.
        Assert.InRange(statusReads, 1, 5);
        await console.ScreenshotAsync("console-restarted");

        // A restart someone else asks for shows from the events alone: Chromium's exit says restarting, then it is ready.
        var transitionsBefore = await page.EvaluateAsync<int>("() => document.querySelectorAll('#transitions li[data-state]').length");
        using (var restart = await Http.PostAsync(gateway.ApiHttp("/chromium/restart"), null).WaitAsync(TimeSpan.FromSeconds(90)))
        {
            Assert.True(restart.IsSuccessStatusCode, await restart.Content.ReadAsStringAsync());
        }
        await page.WaitForFunctionAsync("""
            before => { const items = [...document.querySelectorAll('#transitions li[data-state]')];
                        const fresh = items.slice(0, items.length - before).map(li => li.dataset.state + ' ' + li.textContent);
                        return fresh.length >= 2 && fresh[0].startsWith('ready ') && fresh[fresh.length - 1].startsWith('restarting ')
                            && fresh[fresh.length - 1].includes('ready → restarting  (chromium_exited restart'); }
            """, transitionsBefore).WaitAsync(Patience);
        await console.ScreenshotAsync("console-restarted-elsewhere");

        // Chromium is killed: the log shows the crash and the way back, and the last exit names its cause.
        transitionsBefore = await page.EvaluateAsync<int>("() => document.querySelectorAll('#transitions li[data-state]').length");
        Signal(gateway.ChromiumBrowserPid(), SIGKILL);
        await page.WaitForFunctionAsync("""
            before => { const items = [...document.querySelectorAll('#transitions li[data-state]')];
                        const fresh = items.slice(0, items.length - before).map(li => li.dataset.state);
                        return fresh[0] === 'ready' && fresh.includes('backoff'); }
            """, transitionsBefore).WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => /cause crash/.test(document.getElementById('chromium-last-exit').textContent)").WaitAsync(Patience);
        output.WriteLine($"last exit on the page: {await page.TextContentAsync("#chromium-last-exit")}");
        var log = await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('#transitions li')].map(li => li.textContent)");
        output.WriteLine("transition log:\n" + string.Join('\n', log));
        Assert.Contains(log, line => line.Contains("ready → backoff  (chromium_exited crash: pid", StringComparison.Ordinal) && line.Contains("signal", StringComparison.Ordinal));
        await console.ScreenshotAsync("console-after-crash");
        Assert.Equal(errorsBeforeRestart, console.Errors.Count);

        // Nothing left this origin.
        console.AssertAllRequestsWentToTheApiPort();
    }

    [Fact]
    public async Task OpenedWithItsTokenTheConsoleReadsAndActs()
    {
        const string Token = "console-token-0123456789";
        await using var gateway = Start(output, "--token", Token);
        gateway.Token = Token;
        await gateway.WaitHealthyAsync();
        await using var console = await OperatorConsole.OpenAsync(gateway, "/?token=" + Token, output);
        var page = console.Page;

        await page.WaitForFunctionAsync("() => document.getElementById('chromium-state').textContent === 'ready'").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => document.getElementById('stream-state').textContent === 'live'").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => Number(document.getElementById('chart-open').dataset.points) > 0").WaitAsync(Patience);

        using var client = await CdpSocket.ConnectAsync(gateway.CdpWs("/devtools/browser/any?token=" + Token));
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#connections tr[data-id]').length === 1").WaitAsync(Patience);
        var id = await page.EvaluateAsync<string>("() => document.querySelector('#connections tr[data-id]').dataset.id");
        var closeSeen = client.WaitForCloseAsync(Patience);
        await page.ClickAsync("button.close-connection").WaitAsync(Patience);
        Assert.Equal(1008, await closeSeen);
        Assert.Equal("operator", (await gateway.WaitForDisconnectAsync(id)).GetProperty("cancelled_by").GetString());
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#connections tr[data-id]').length === 0").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => document.querySelector('#events tr[data-type=cdp_disconnect]') !== null").WaitAsync(Patience);
        await console.ScreenshotAsync("console-with-token");

        Assert.Equal("", await page.TextContentAsync("#problem"));
        Assert.Empty(console.Errors);
        console.AssertAllRequestsWentToTheApiPort();
        Assert.All(console.Requests.Where(r => new Uri(r).AbsolutePath != "/favicon.ico"), r => Assert.Contains("token=" + Token, r));
    }

    [Fact]
    public async Task OpenedWithTheReadOnlyTokenTheConsoleShowsEverything_AndItsButtonsAreRefusedInTheApisWords()
    {
        const string ReadToken = "console-read-token-0123456789";
        const string ApiToken = "console-api-token-9876543210";
        await using var gateway = Start(output, "--token", ReadToken, "--api-token", ApiToken);
        gateway.Token = ReadToken;
        await gateway.WaitHealthyAsync();
        var generation = (await gateway.GetJsonAsync(gateway.ApiHttp("/chromium?token=" + ReadToken))).GetProperty("generation").GetInt64();
        await using var console = await OperatorConsole.OpenAsync(gateway, "/?token=" + ReadToken, output);
        var page = console.Page;

        await page.WaitForFunctionAsync("() => document.getElementById('chromium-state').textContent === 'ready'").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => document.getElementById('stream-state').textContent === 'live'").WaitAsync(Patience);
        await page.ClickAsync("#chromium-restart").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => document.getElementById('restart-answer').textContent.startsWith('403 ')").WaitAsync(Patience);
        var answer = await page.TextContentAsync("#restart-answer");
        output.WriteLine($"restart answer on the page: {answer}");
        Assert.Contains("--api-token", answer);
        await page.ClickAsync("input[data-server-category=system]").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => document.getElementById('telemetry-answer').textContent.includes('403 ')").WaitAsync(Patience);
        // The refused switch shows what the gateway still says: on.
        await page.WaitForFunctionAsync("() => document.querySelector('input[data-server-category=system]').checked").WaitAsync(Patience);
        await page.WaitForFunctionAsync("() => document.getElementById('chromium-state').textContent === 'ready'").WaitAsync(Patience);
        await console.ScreenshotAsync("console-read-only-token");

        Assert.Equal(generation, (await gateway.GetJsonAsync(gateway.ApiHttp("/chromium?token=" + ReadToken))).GetProperty("generation").GetInt64());
        Assert.True((await gateway.GetJsonAsync(gateway.ApiHttp("/telemetry?token=" + ReadToken))).GetProperty("config").GetProperty("system")
            .GetProperty("enabled").GetBoolean());
        Assert.All(console.Errors, e => Assert.Contains("status of 403", e));
        console.AssertAllRequestsWentToTheApiPort();
    }

    private static async Task<bool> ControlEnabledAsync(GatewayProcess gateway) =>
        (await gateway.GetJsonAsync(gateway.ApiHttp(gateway.Token is null ? "/telemetry" : "/telemetry?token=" + gateway.Token)))
            .GetProperty("config").GetProperty("control").GetProperty("enabled").GetBoolean();

    /// <summary>The console in a Chromium of its own, with every request and console error it makes recorded.</summary>
    private sealed class OperatorConsole : IAsyncDisposable
    {
        private readonly Pw.IPlaywright _playwright;
        private readonly Pw.IBrowser _browser;
        private readonly GatewayProcess _gateway;
        private readonly ITestOutputHelper _output;
        private readonly List<string> _requests = [];
        private readonly List<string> _errors = [];

        private OperatorConsole(Pw.IPlaywright playwright, Pw.IBrowser browser, Pw.IPage page, GatewayProcess gateway, ITestOutputHelper output)
        {
            _playwright = playwright;
            _browser = browser;
            Page = page;
            _gateway = gateway;
            _output = output;
        }

        public Pw.IPage Page { get; }

        public IReadOnlyList<string> Errors
        {
            get
            {
                lock (_errors)
                {
                    return [.. _errors];
                }
            }
        }

        public IReadOnlyList<string> Requests
        {
            get
            {
                lock (_requests)
                {
                    return [.. _requests];
                }
            }
        }

        public static async Task<OperatorConsole> OpenAsync(GatewayProcess gateway, string path, ITestOutputHelper output)
        {
            var playwright = await Pw.Playwright.CreateAsync().WaitAsync(Patience);
            try
            {
                var browser = await playwright.Chromium.LaunchAsync(new Pw.BrowserTypeLaunchOptions
                {
                    ExecutablePath = Chromium,
                    Headless = true,
                    Args = ["--no-sandbox"],
                }).WaitAsync(Patience);
                var page = await browser.NewPageAsync(new Pw.BrowserNewPageOptions { ViewportSize = new Pw.ViewportSize { Width = 1400, Height = 1000 } });
                var console = new OperatorConsole(playwright, browser, page, gateway, output);
                page.Request += (_, request) =>
                {
                    lock (console._requests)
                    {
                        console._requests.Add(request.Url);
                    }
                };
                page.Console += (_, message) =>
                {
                    if (message.Type == "error")
                    {
                        lock (console._errors)
                        {
                            console._errors.Add(message.Text);
                        }
                        output.WriteLine($"console error: {message.Text}");
                    }
                };
                page.PageError += (_, error) =>
                {
                    lock (console._errors)
                    {
                        console._errors.Add(error);
                    }
                    output.WriteLine($"page error: {error}");
                };
                await page.GotoAsync(gateway.ApiHttp(path).ToString()).WaitAsync(Patience);
                return console;
            }
            catch
            {
                playwright.Dispose();
                throw;
            }
        }

        public void AssertAllRequestsWentToTheApiPort()
        {
            var requests = Requests;
            _output.WriteLine($"{requests.Count} requests, e.g. {string.Join(", ", requests.Select(r => new Uri(r).AbsolutePath).Distinct().Take(12))}");
            Assert.NotEmpty(requests);
            Assert.All(requests, r => Assert.Equal($"127.0.0.1:{_gateway.ApiPort}", new Uri(r).Authority));
        }

        public async Task ScreenshotAsync(string name)
        {
            var folder = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");
            Directory.CreateDirectory(folder);
            var path = Path.Combine(folder, name + ".png");
            await Page.ScreenshotAsync(new Pw.PageScreenshotOptions { Path = path, FullPage = true }).WaitAsync(Patience);
            _output.WriteLine($"screenshot: {path}");
        }

        public async ValueTask DisposeAsync()
        {
            await _browser.DisposeAsync();
            _playwright.Dispose();
        }
    }
}
