using System.Net.WebSockets;
using System.Text;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Api;

[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class MetricsEndpointTests
{
    private const string Click = """{"id":7,"method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":10,"y":20,"button":"left","clickCount":1}}""";

    private static Task<MetricsScrape> ScrapeAsync(TestGateway gw) => MetricsScrape.FromAsync(gw);

    [Fact]
    public async Task AFreshGatewayExportsEveryCountAtZero_AndOnlyItsOwnMetrics()
    {
        await using var gw = await TestGateway.StartAsync();

        var metrics = await ScrapeAsync(gw);

        Assert.Equal(0, metrics["cdp_gateway_connections_open"]);
        Assert.Equal(0, metrics["cdp_gateway_connections_total{target=\"browser\"}"]);
        Assert.Equal(0, metrics["cdp_gateway_connections_queued"]);
        foreach (string cause in new[] { "limit", "queue_full", "queue_timeout" })
        {
            Assert.Equal(0, metrics[$"cdp_gateway_connections_rejected_total{{cause=\"{cause}\"}}"]);
        }
        foreach (string reason in new[] { "client_close", "context_cancelled", "upstream_changed", "upstream_error" })
        {
            Assert.Equal(0, metrics[$"cdp_gateway_disconnects_total{{reason=\"{reason}\"}}"]);
        }
        foreach (string method in CdpMethods.AllNames)
        {
            Assert.Equal(0, metrics[$"cdp_gateway_cdp_commands_total{{method=\"{method}\"}}"]);
        }
        Assert.Equal(1, metrics["cdp_gateway_chromium_up"]);
        // Its own families, the process's and the runtime's, and the resource: nothing of another gateway or library.
        Assert.All(metrics.Samples.Keys, name => Assert.Matches("^(cdp_gateway_|process_|dotnet_|target_info)", name));
    }

    [Fact]
    public async Task AConnectionIsCountedOpenWhileLive_ThenByReasonWithItsTrafficAndCommands()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        await client.EchoAsync(Click);

        var live = await ScrapeAsync(gw);
        Assert.Equal(1, live["cdp_gateway_connections_open"]);
        Assert.Equal(1, live["cdp_gateway_connections_total{target=\"browser\"}"]);

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        var ended = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        var metrics = await ScrapeAsync(gw);

        Assert.Equal(0, metrics["cdp_gateway_connections_open"]);
        Assert.Equal(1, metrics["cdp_gateway_disconnects_total{reason=\"client_close\"}"]);
        Assert.Equal(ended.GetProperty("messages_from_client").GetInt64(), metrics["cdp_gateway_messages_total{from=\"client\"}"]);
        Assert.Equal(2, metrics["cdp_gateway_messages_total{from=\"client\"}"]);
        Assert.Equal(ended.GetProperty("bytes_from_upstream").GetInt64(), metrics["cdp_gateway_bytes_total{from=\"upstream\"}"]);
        Assert.Equal(Encoding.UTF8.GetByteCount(Click) + 2, metrics["cdp_gateway_bytes_total{from=\"client\"}"]);
        Assert.Equal(1, metrics["cdp_gateway_cdp_commands_total{method=\"Input.dispatchMouseEvent\"}"]);
        Assert.Equal(0, metrics["cdp_gateway_cdp_commands_total{method=\"Page.navigate\"}"]);
        Assert.Equal(gw.App.Events.Seq, metrics["cdp_gateway_events_total"]);
    }

    [Fact]
    public async Task CountsDoNotDependOnTelemetryCategories_ExceptReportedCommands()
    {
        await using var gw = await TestGateway.StartAsync();
        var config = gw.Services<TelemetryConfig>();
        foreach (string category in new[] { EventCategory.Connection, EventCategory.Control, EventCategory.System })
        {
            config.SetEnabled(category, false);
        }
        using var client = await gw.ConnectAsync();
        await client.EchoAsync(Click);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);

        var metrics = await WaitForAsync(gw, m => m["cdp_gateway_disconnects_total{reason=\"client_close\"}"] == 1);

        Assert.Equal(1, metrics["cdp_gateway_connections_total{target=\"browser\"}"]);
        Assert.Equal(1, metrics["cdp_gateway_messages_total{from=\"client\"}"]);
        Assert.Equal(0, metrics["cdp_gateway_cdp_commands_total{method=\"Input.dispatchMouseEvent\"}"]);
        Assert.Empty(gw.AllEvents());
        gw.SkipConnectionInvariant();
    }

    [Fact]
    public async Task TwoGatewaysInOneProcessKeepTheirOwnCounts()
    {
        await using var first = await TestGateway.StartAsync();
        await using var second = await TestGateway.StartAsync();
        using (var client = await first.ConnectAsync())
        {
            await client.EchoAsync("{}");
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        }
        await first.WaitForEventAsync(ConnectionEventTypes.Disconnect);

        Assert.Equal(1, (await ScrapeAsync(first))["cdp_gateway_connections_total{target=\"browser\"}"]);
        Assert.Equal(0, (await ScrapeAsync(second))["cdp_gateway_connections_total{target=\"browser\"}"]);
    }

    /// <summary>
    /// With the connection category off there is no cdp_disconnect to await: scrape until the counts show the end
    /// (the handler counts it once the reason is resolved, just after the client saw its close).
    /// </summary>
    private static async Task<MetricsScrape> WaitForAsync(TestGateway gw, Func<MetricsScrape, bool> done)
    {
        MetricsScrape? metrics = null;
        await Eventually.TrueAsync(async () => done(metrics = await ScrapeAsync(gw)), () => "the metrics as expected; last scrape:\n" + metrics?.Text);
        return metrics!;
    }
}
