using System.Net.WebSockets;
using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Api;

/// <summary>
/// <c>GET /metrics</c> of a real gateway supervising tests/FakeChromium, after connections, a reported command and a
/// requested restart: strict Prometheus text as promtool reads it, with every family the README lists.
/// </summary>
public sealed class MetricsExpositionTests : IAsyncLifetime
{
    private const string Click = """{"id":7,"method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":10,"y":20,"button":"left","clickCount":1}}""";

    private readonly SupervisedGateways _gateways = new();

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xUnit 2 never calls a test class's IAsyncDisposable.
    public async Task DisposeAsync() => await _gateways.DisposeAsync();

    [Fact]
    public async Task AScrapeAfterTrafficAndARestartPassesPromtool_WithEveryFamilyTheReadmeLists()
    {
        var gateway = await _gateways.StartAsync();
        using (var ended = await ConnectAsync(gateway))
        {
            await ended.EchoAsync(Click);
            Assert.True((await _gateways.Http.PostAsync(Api(gateway, "/chromium/restart"), null)).IsSuccessStatusCode);
            await Eventually.TrueAsync(() => Events(gateway, ConnectionEventTypes.Disconnect) == 1, "the first connection's cdp_disconnect");
        }
        using var open = await ConnectAsync(gateway);
        await open.EchoAsync("{}");

        var scrape = await MetricsScrape.FromAsync(Api(gateway, "/metrics"));
        await Promtool.AssertStrictAsync(scrape.Text);
        var documented = DocumentedMetrics.Families();
        Assert.Contains("cdp_gateway_chromium_restart_phase_seconds", documented);
        Assert.All(documented, family => Assert.True(scrape.Families.ContainsKey(family), $"{family} is in the README but not in the scrape:\n{scrape.Text}"));
        Assert.All(scrape.Families.Keys.Where(f => f.StartsWith("cdp_gateway_", StringComparison.Ordinal)),
            family => Assert.Contains(family, documented));
        Assert.Equal("histogram", scrape.Families["cdp_gateway_chromium_restart_phase_seconds"]);
        foreach (var phase in (string[])["stop", "launch_to_devtools", "devtools_to_ready", "gateway", "request_to_stop", "stopped_to_launch", "ready_to_answer"])
        {
            Assert.Equal(1, scrape[$"cdp_gateway_chromium_restart_phase_seconds_count{{phase=\"{phase}\"}}"]);
        }
        Assert.Equal(1, scrape["cdp_gateway_chromium_restarts_total"]);
        Assert.Equal(1, scrape["cdp_gateway_disconnects_total{reason=\"upstream_changed\"}"]);
        Assert.Equal(1, scrape["cdp_gateway_connection_duration_seconds_count{reason=\"upstream_changed\"}"]);
        Assert.Equal(1, scrape["cdp_gateway_cdp_command_publish_lag_seconds_count"]);
    }

    private static int Events(GatewayApp gateway, string type) => gateway.Events.Snapshot(0, 8192, null).Count(e => e.Type == type);

    private static Uri Api(GatewayApp gateway, string path) => new($"http://127.0.0.1:{gateway.ApiPort}{path}");

    private static async Task<ClientWebSocket> ConnectAsync(GatewayApp gateway)
    {
        var client = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(new Uri($"ws://127.0.0.1:{gateway.CdpPort}/devtools/browser/any"), timeout.Token);
        return client;
    }
}
