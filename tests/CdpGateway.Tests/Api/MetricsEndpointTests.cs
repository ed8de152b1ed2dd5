using System.Globalization;
using System.Net;
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

    /// <summary>Scrapes /metrics: every sample line as "name{labels}" to its value.</summary>
    private static async Task<Dictionary<string, double>> ScrapeAsync(TestGateway gw)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(gw.ApiHttp("/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in (await response.Content.ReadAsStringAsync()).Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            int space = line.LastIndexOf(' ');
            samples.Add(line[..space], double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture));
        }
        return samples;
    }

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
        // A registry of its own: no process or runtime collectors of the library's default registry.
        Assert.All(metrics.Keys, name => Assert.StartsWith("cdp_gateway_", name));
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
    private static async Task<Dictionary<string, double>> WaitForAsync(TestGateway gw, Func<Dictionary<string, double>, bool> done)
    {
        var metrics = new Dictionary<string, double>();
        await Eventually.TrueAsync(async () => done(metrics = await ScrapeAsync(gw)), () => "the metrics as expected; last scrape: "
            + string.Join(", ", metrics.Select(m => $"{m.Key} {m.Value}")));
        return metrics;
    }
}
