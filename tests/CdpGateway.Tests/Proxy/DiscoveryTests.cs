using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Proxy;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Tests.Proxy;

/// <summary>Discovery answers come from the current Chromium, rewritten to the gateway as the client addressed it.</summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class DiscoveryTests
{
    [Theory]
    [InlineData("/json/version")]
    [InlineData("/json/version/")]
    public async Task VersionPointsAtTheGatewayByTheClientsHost(string path)
    {
        await using var gw = await TestGateway.StartAsync(o => o.AllowedHosts = "gateway.example");
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, gw.CdpHttp(path));
        request.Headers.Host = "gateway.example:9999";

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal($"ws://gateway.example:9999/devtools/browser/{gw.Browser.BrowserId}", json.GetProperty("webSocketDebuggerUrl").GetString());
        Assert.Equal("FakeChromium/1.0", json.GetProperty("Browser").GetString());
    }

    [Theory]
    [InlineData("/json")]
    [InlineData("/json/")]
    [InlineData("/json/list")]
    [InlineData("/json/list/")]
    public async Task ListRewritesEveryTargetUrlAndTheFrontendWsParameter(string path)
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();

        var json = JsonDocument.Parse(await http.GetStringAsync(gw.CdpHttp(path))).RootElement;

        var page = json.EnumerateArray().Single();
        var id = page.GetProperty("id").GetString();
        var authority = $"127.0.0.1:{gw.App.CdpPort}";
        Assert.Equal($"ws://{authority}/devtools/page/{id}", page.GetProperty("webSocketDebuggerUrl").GetString());
        Assert.Equal($"/devtools/inspector.html?ws={authority}/devtools/page/{id}", page.GetProperty("devtoolsFrontendUrl").GetString());
    }

    [Fact]
    public async Task NewActivateCloseAndProtocolAreAnsweredByChromium()
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();

        using var created = await http.PutAsync(gw.CdpHttp("/json/new?about:blank"), null);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var page = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
        var id = page.GetProperty("id").GetString()!;
        Assert.StartsWith($"ws://127.0.0.1:{gw.App.CdpPort}/devtools/page/", page.GetProperty("webSocketDebuggerUrl").GetString());

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(gw.CdpHttp($"/json/activate/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(gw.CdpHttp($"/json/close/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(gw.CdpHttp("/json/close/no-such-id"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(gw.CdpHttp("/json/protocol"))).StatusCode);
    }

    [Fact]
    public async Task BeforeChromiumIsUpDiscoveryIs503WithAClearBody()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        using var http = new HttpClient();

        var response = await http.GetAsync(gw.CdpHttp("/json/list"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("Chromium has not announced", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public void FrontendUrlRewriteKeepsOtherParametersAndThePath()
    {
        var rewritten = DiscoveryEndpoints.RewriteFrontendUrl(
            "https://chrome-devtools-frontend.appspot.com/serve_rev/@1/inspector.html?remoteFrontend=true&ws=127.0.0.1%3A4444%2Fdevtools%2Fpage%2Fnested",
            new GatewayAddress("ws", "gw:9222", null));

        Assert.Equal("https://chrome-devtools-frontend.appspot.com/serve_rev/@1/inspector.html?remoteFrontend=true&ws=gw:9222/devtools/page/nested", rewritten);
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData("", "")]
    [InlineData("?token=s3cret", "")]
    [InlineData("?a=1&token=s3cret&b=2", "?a=1&b=2")]
    [InlineData("?TOKEN=s3cret&to%6Ben=x&token&tok+en=y", "?tok+en=y")]
    [InlineData("?http://x/?a=b", "?http://x/?a=b")]
    [InlineData("?http://x/?a=b&token=s3cret", "?http://x/?a=b")]
    [InlineData("?http%3A%2F%2Fx%2F%3Ftoken%3Dkept", "?http%3A%2F%2Fx%2F%3Ftoken%3Dkept")]
    [InlineData("?tokens=1&mytoken=2&token%3D=3", "?tokens=1&mytoken=2&token%3D=3")]
    [InlineData("?a=%zz&&b=", "?a=%zz&&b=")]
    public void ATokenParameterIsLeftOutAndEveryOtherByteKept(string? query, string expected) =>
        Assert.Equal(expected, DiscoveryEndpoints.WithoutToken(query));

    [Fact]
    public async Task NeitherTheTokenNorTheClientsCredentialsReachChromium()
    {
        await using var gw = await TestGateway.StartAsync(o => o.Token = "s3cret");
        using var http = new HttpClient();

        foreach (var (method, path) in new[] { ("GET", "/json/list?token=s3cret"), ("GET", "/json/version?a=1&token=s3cret"), ("PUT", "/json/new?http://x/?a=b&token=s3cret") })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), gw.CdpHttp(path));
            request.Headers.Add("Authorization", "Bearer s3cret");
            request.Headers.Add("Cookie", "session=s3cret");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using var client = await gw.ConnectAsync("/devtools/browser/any?token=s3cret", o => o.SetRequestHeader("Cookie", "session=s3cret"));
        Assert.Equal("{}", await client.EchoAsync("{}"));

        var seen = gw.Browser.Requests;
        Assert.Equal(["/json/list", "/json/version?a=1", "/json/new?http://x/?a=b"], seen.Take(3).Select(r => r.Target));
        Assert.Equal(4, seen.Count);
        foreach (var request in seen)
        {
            Assert.DoesNotContain("s3cret", request.Target);
            Assert.DoesNotContain(request.Headers, h => h.Value.Contains("s3cret", StringComparison.Ordinal));
            Assert.False(request.Headers.ContainsKey("Authorization"));
            Assert.False(request.Headers.ContainsKey("Cookie"));
        }
    }
    [Fact]
    public async Task WhileTheAnnouncedBrowserIsGoneDiscoveryIs503WithRetryAfterUntilANewOneAnswers()
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();
        // A crash: the browser's port is closed while the gateway still holds its URL, as until the next announcement.
        await gw.Browser.DisposeAsync();

        using (var gone = await http.GetAsync(gw.CdpHttp("/json/version")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, gone.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), gone.Headers.RetryAfter?.Delta);
            Assert.Contains("no browser answers yet", await gone.Content.ReadAsStringAsync());
        }

        await gw.StartBrowserAsync();
        using var back = await http.GetAsync(gw.CdpHttp("/json/version"));
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
    }

    [Fact]
    public async Task AClientPollingDiscoveryThroughARestartLeavesNoWarningPerPoll()
    {
        var log = new WarningLog();
        await using var gw = await TestGateway.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(log));
        using var http = new HttpClient();
        await gw.Browser.DisposeAsync();

        for (var i = 0; i < 20; i++)
        {
            using var response = await http.GetAsync(gw.CdpHttp("/json/list"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        }

        // The state is reported where it belongs (health, chromium_* events); each poll is no news.
        Assert.DoesNotContain(log.Entries, e => e.Category.EndsWith(nameof(DiscoveryEndpoints), StringComparison.Ordinal));
    }

    /// <summary>Warnings and worse, with the category that logged them.</summary>
    private sealed class WarningLog : ILoggerProvider
    {
        public System.Collections.Concurrent.ConcurrentQueue<(string Category, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(WarningLog log, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    log.Entries.Enqueue((category, formatter(state, exception)));
                }
            }
        }
    }

    [Fact]
    public async Task ABrowserAnnouncedButNotListeningYetIs503WithRetryAfter()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        using var http = new HttpClient();
        gw.App.Tracker.Set($"ws://127.0.0.1:{UnusedPort()}/devtools/browser/next");

        using var response = await http.GetAsync(gw.CdpHttp("/json/list"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task BeforeAnyBrowserIsAnnouncedThe503AlsoSaysWhenToRetry()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        using var http = new HttpClient();

        using var response = await http.GetAsync(gw.CdpHttp("/json/version"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task ABrowserThatAnswersGarbageIs502()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        gw.App.Tracker.Set($"ws://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/devtools/browser/odd");
        using var http = new HttpClient();

        var asked = http.GetAsync(gw.CdpHttp("/json/version"));
        using (var browser = await listener.AcceptTcpClientAsync())
        {
            // The whole request is read first, so the garbage is answered to it rather than racing a reset.
            var stream = browser.GetStream();
            var head = new StringBuilder();
            var buffer = new byte[1024];
            while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer);
                Assert.NotEqual(0, read);
                head.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
            await stream.WriteAsync(Encoding.ASCII.GetBytes("this is no HTTP\r\n\r\n"));
        }
        using var response = await asked;

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Null(response.Headers.RetryAfter);
    }

    [Fact]
    public void OnlyAFailureToReachABrowserOrABrowserReplacedMeanwhileSaysRetry()
    {
        var refused = new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused");
        var broken = new HttpRequestException(HttpRequestError.InvalidResponse, "bad status line");
        var silent = new TaskCanceledException("timed out", new TimeoutException());

        Assert.True(DiscoveryEndpoints.NoBrowserAnswered(refused, browserReplaced: false));
        Assert.False(DiscoveryEndpoints.NoBrowserAnswered(broken, browserReplaced: false));
        Assert.False(DiscoveryEndpoints.NoBrowserAnswered(silent, browserReplaced: false));
        Assert.True(DiscoveryEndpoints.NoBrowserAnswered(broken, browserReplaced: true));
    }

    [Theory]
    [InlineData("HEAD", "/json/version")]
    [InlineData("POST", "/json/version")]
    [InlineData("OPTIONS", "/json/version")]
    [InlineData("DELETE", "/json/version")]
    [InlineData("POST", "/json/list")]
    [InlineData("HEAD", "/json")]
    [InlineData("POST", "/json/protocol")]
    public async Task DiscoveryAnswersEveryMethodAsChromiumDoes(string method, string path)
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), gw.CdpHttp(path));

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(method == "HEAD", body.Length == 0);
        // Chromium is asked with GET whatever the client's method: it ignores the method, and a HEAD's answer has no body.
        Assert.Equal("GET", gw.Browser.Requests.Single().Method);
    }

    [Fact]
    public async Task ActivateAndCloseAnswerAnyMethodAsChromiumDoes()
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();
        var page = gw.Browser.PageIds[0];

        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync(gw.CdpHttp($"/json/activate/{page}"), null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync(gw.CdpHttp($"/json/close/{page}"), null)).StatusCode);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("POST")]
    [InlineData("HEAD")]
    public async Task NewTakesOnlyPutAndRefusesOtherMethodsWith405AsChromiumDoes(string method)
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(new HttpMethod(method), gw.CdpHttp("/json/new?about:blank"));

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(["PUT"], response.Content.Headers.Allow);
        if (method != "HEAD")
        {
            Assert.Contains("supports only PUT", await response.Content.ReadAsStringAsync());
        }
        Assert.Empty(gw.Browser.Requests);
        Assert.Single(gw.Browser.PageIds);
    }

    private static int UnusedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
