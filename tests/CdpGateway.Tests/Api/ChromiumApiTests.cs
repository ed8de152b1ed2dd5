using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Browser;
using CdpGateway.Tests.Support;
using FakeChromium;

namespace CdpGateway.Tests.Api;

/// <summary>The control API over HTTP, on a real gateway supervising tests/FakeChromium.</summary>
public sealed class ChromiumApiTests : IAsyncLifetime
{
    private readonly SupervisedGateways _gateways = new();

    private FakeBrowsers _fakes => _gateways.Fakes;

    private HttpClient _http => _gateways.Http;

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xUnit 2 never calls a test class's IAsyncDisposable.
    public async Task DisposeAsync() => await _gateways.DisposeAsync();

    private Task<GatewayApp> StartAsync(Action<GatewayOptions>? configure = null, bool waitReady = true) =>
        _gateways.StartAsync(configure, waitReady: waitReady);

    private static Uri Api(GatewayApp gateway, string path) => new($"http://127.0.0.1:{gateway.ApiPort}{path}");

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(GatewayApp gateway, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, Api(gateway, path));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task HealthAndChromiumDescribeTheRunningBrowser()
    {
        var gateway = await StartAsync();
        var (status, health) = await SendAsync(gateway, HttpMethod.Get, "/health");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ready", health.GetProperty("status").GetString());
        Assert.Equal(gateway.Tracker.Current, health.GetProperty("devtools_url").GetString());

        var (_, chromium) = await SendAsync(gateway, HttpMethod.Get, "/chromium");
        Assert.Equal("launch", chromium.GetProperty("mode").GetString());
        Assert.Equal("ready", chromium.GetProperty("state").GetString());
        Assert.True(chromium.GetProperty("pid").GetInt32() > 0);
        Assert.Equal(1, chromium.GetProperty("generation").GetInt64());
        Assert.Equal(0, chromium.GetProperty("restarts").GetInt64());
        Assert.Equal(JsonValueKind.Null, chromium.GetProperty("last_exit").ValueKind);
        Assert.Equal(0, chromium.GetProperty("flags").GetArrayLength());
        Assert.Contains("--remote-debugging-port=0", chromium.GetProperty("command_line").EnumerateArray().Select(a => a.GetString()));
    }

    [Fact]
    public async Task RestartAnswersWithTheNewUrlOnceReadyAndHealthReportsTheCrashLoopOfABrokenBrowser()
    {
        var gateway = await StartAsync();
        var before = gateway.Tracker.Current;
        var (status, restart) = await SendAsync(gateway, HttpMethod.Post, "/chromium/restart");
        Assert.Equal(HttpStatusCode.OK, status);
        var url = restart.GetProperty("devtools_url").GetString();
        Assert.NotEqual(before, url);
        Assert.Equal(gateway.Tracker.Current, url);
        Assert.True(restart.GetProperty("elapsed_ms").GetDouble() > 0);
        var phases = restart.GetProperty("phases");
        var chromiumMs = phases.GetProperty("stop_ms").GetDouble() + phases.GetProperty("launch_to_devtools_ms").GetDouble()
            + phases.GetProperty("devtools_to_ready_ms").GetDouble();
        Assert.True(phases.GetProperty("launch_to_devtools_ms").GetDouble() > 0);
        Assert.InRange(phases.GetProperty("gateway_ms").GetDouble(), 0, restart.GetProperty("elapsed_ms").GetDouble());
        Assert.Equal(restart.GetProperty("elapsed_ms").GetDouble(), chromiumMs + phases.GetProperty("gateway_ms").GetDouble(), 0.5);
        foreach (var name in (string[])["request_to_stop_ms", "stopped_to_launch_ms", "ready_to_answer_ms"])
        {
            Assert.True(phases.GetProperty(name).GetDouble() >= 0, name);
        }
        Assert.Equal("restart", gateway.Chromium.Status.LastExit!.Cause);

        var broken = await StartAsync(o => o.Chromium = _fakes.Script("exit 7"), waitReady: false);
        await Eventually.TrueAsync(() => broken.Chromium.Status.State == "crash_loop", "crash loop");
        var (healthStatus, health) = await SendAsync(broken, HttpMethod.Get, "/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, healthStatus);
        Assert.Equal("crash_loop", health.GetProperty("status").GetString());
        Assert.Equal(7, health.GetProperty("last_exit").GetProperty("exit_code").GetInt32());
        Assert.Equal("crash", health.GetProperty("last_exit").GetProperty("cause").GetString());
    }

    [Fact]
    public async Task FlagChangesAreValidatedMergedPersistedAppliedAndSurviveAGatewayRestart()
    {
        var gateway = await StartAsync();
        foreach (var (body, named) in new[]
        {
            ("{\"flags\":", "not valid JSON"),
            ("", "empty"),
            ("{\"flags\":[\"--ok\",\"bad\"]}", "\"bad\""),
            ("{\"flags\":[\"--user-data-dir=/x\"]}", "--user-data-dir"),
            ("{\"flags\":[null]}", "null"),
            ("[]", "{\"flags\""),
        })
        {
            var (status, error) = await SendAsync(gateway, HttpMethod.Patch, "/chromium/flags", body);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Contains(named, error.GetProperty("error").GetString());
        }
        Assert.Equal(1, gateway.Chromium.Status.Generation); // nothing was restarted for a bad body

        var (patched, answer) = await SendAsync(gateway, HttpMethod.Patch, "/chromium/flags", """{"flags":["--lang=de","--user-agent=Agent/1 (x)"]}""");
        Assert.Equal(HttpStatusCode.OK, patched);
        Assert.True(answer.GetProperty("restarted").GetBoolean());
        Assert.Equal(gateway.Tracker.Current, answer.GetProperty("devtools_url").GetString());
        (_, answer) = await SendAsync(gateway, HttpMethod.Patch, "/chromium/flags", """{"flags":["--lang=fr"]}""");
        Assert.Equal(["--user-agent=Agent/1 (x)", "--lang=fr"], answer.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        var cmdline = FakeBrowsers.CommandLineOf(gateway.Chromium.Status.Pid!.Value);
        Assert.Contains("--lang=fr", cmdline);
        Assert.Contains("--user-agent=Agent/1 (x)", cmdline);
        Assert.Equal(3, gateway.Chromium.Status.Generation);

        // The same set again changes nothing and restarts nothing.
        (_, answer) = await SendAsync(gateway, HttpMethod.Patch, "/chromium/flags", """{"flags":["--lang=fr"]}""");
        Assert.False(answer.GetProperty("restarted").GetBoolean());

        var (put, replaced) = await SendAsync(gateway, HttpMethod.Put, "/chromium/flags", """{"flags":["--window-size=800,600"]}""");
        Assert.Equal(HttpStatusCode.OK, put);
        Assert.Equal(["--window-size=800,600"], replaced.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        var (_, listed) = await SendAsync(gateway, HttpMethod.Get, "/chromium/flags");
        Assert.Equal(["--window-size=800,600"], listed.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));

        await gateway.StopAsync();
        var next = await StartAsync();
        var (_, again) = await SendAsync(next, HttpMethod.Get, "/chromium");
        Assert.Equal(["--window-size=800,600"], again.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        Assert.Contains("--window-size=800,600", FakeBrowsers.CommandLineOf(again.GetProperty("pid").GetInt32()));
    }

    [Fact]
    public async Task AClientOnABrowserRestartedOnRequestIsTold1012AndItsDisconnectIsUpstreamChanged()
    {
        var gateway = await StartAsync();
        using var client = new ClientWebSocket();
        client.Options.KeepAliveInterval = TimeSpan.Zero;
        await client.ConnectAsync(new Uri($"ws://127.0.0.1:{gateway.CdpPort}/devtools/browser/any"), FakeBrowsers.Timeout());
        Assert.Equal("{\"id\":1}", await client.EchoAsync("{\"id\":1}"));
        var closed = client.WaitForCloseAsync();

        var (status, _) = await SendAsync(gateway, HttpMethod.Post, "/chromium/restart");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((WebSocketCloseStatus)1012, await closed);
        await Eventually.TrueAsync(() => gateway.Events.Snapshot(0, 8192, EventCategory.Connection).Any(e => e.Type == ConnectionEventTypes.Disconnect), "disconnect");
        var disconnect = JsonDocument.Parse(gateway.Events.Snapshot(0, 8192, EventCategory.Connection).Single(e => e.Type == ConnectionEventTypes.Disconnect).Utf8Json)
            .RootElement.GetProperty("event").GetProperty("data");
        Assert.Equal(DisconnectReason.UpstreamChanged.WireName(), disconnect.GetProperty("reason").GetString());
        Assert.Equal(1012, disconnect.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public async Task AConnectionOpenedDuringARestartLandsOnTheNewBrowser()
    {
        // The next browser takes a while to announce itself: the connection is opened in that gap.
        var gateway = await StartAsync(o => o.Chromium = _fakes.FakeChromium("[ -e \"$0.slow\" ] && export FAKE_CHROMIUM_STARTUP_DELAY_MS=1500\n"));
        var script = gateway.Chromium.Status.CommandLine!.First(a => a.EndsWith(".sh", StringComparison.Ordinal));
        File.WriteAllText(script + ".slow", "");

        var restart = SendAsync(gateway, HttpMethod.Post, "/chromium/restart");
        await Eventually.TrueAsync(() => gateway.Chromium.Status.State == "restarting" && gateway.Chromium.Status.LastExit is not null, "old browser stopped");
        using var client = new ClientWebSocket();
        client.Options.KeepAliveInterval = TimeSpan.Zero;
        await client.ConnectAsync(new Uri($"ws://127.0.0.1:{gateway.CdpPort}/devtools/browser/old-id"), FakeBrowsers.Timeout());
        var (status, answer) = await restart;
        Assert.Equal(HttpStatusCode.OK, status);

        // It works, and it stays open: it was never on the old browser, so no 1012 comes.
        Assert.Equal("{\"id\":5,\"method\":\"Echo\"}", await client.EchoAsync("{\"id\":5,\"method\":\"Echo\"}"));
        Assert.Equal(WebSocketState.Open, client.State);
        Assert.Equal(answer.GetProperty("devtools_url").GetString(), gateway.Tracker.Current);
        Assert.DoesNotContain(gateway.Events.Snapshot(0, 8192, EventCategory.Connection), e => e.Type == ConnectionEventTypes.Disconnect);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, FakeBrowsers.Timeout());
    }

    [Fact]
    public async Task AttachModeRestartsThroughTheRestartCommandAndRefusesWithoutOne()
    {
        await using var first = await FakeDevToolsServer.StartAsync();
        await using var second = await FakeDevToolsServer.StartAsync();
        var log = Path.Combine(_fakes.Dir, "chromium.log");
        File.WriteAllText(log, $"DevTools listening on {first.BrowserUrl}\n");

        var without = await StartAsync(o => o.ChromiumLog = log);
        Assert.Equal(first.BrowserUrl, without.Tracker.Current);
        var (status, error) = await SendAsync(without, HttpMethod.Post, "/chromium/restart");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Contains("--restart-command", error.GetProperty("error").GetString());
        (status, _) = await SendAsync(without, HttpMethod.Patch, "/chromium/flags", """{"flags":["--a"]}""");
        Assert.Equal(HttpStatusCode.Conflict, status);
        var (_, chromium) = await SendAsync(without, HttpMethod.Get, "/chromium");
        Assert.Equal("attach", chromium.GetProperty("mode").GetString());
        await without.StopAsync();

        var with = await StartAsync(o =>
        {
            o.ChromiumLog = log;
            o.RestartCommand = $"echo 'DevTools listening on {second.BrowserUrl}' >> '{log}'";
        });
        var (restarted, answer) = await SendAsync(with, HttpMethod.Post, "/chromium/restart");
        Assert.Equal(HttpStatusCode.OK, restarted);
        Assert.Equal(second.BrowserUrl, answer.GetProperty("devtools_url").GetString());
    }
}
