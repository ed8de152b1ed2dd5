using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.RegularExpressions;
using CdpGateway.Hosting;
using CdpGateway.Proxy;
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
        for (int i = 0; i < 2; i++)
        {
            using var client = await first.ConnectAsync();
            await client.EchoAsync(Click);
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        }
        using (var client = await second.ConnectAsync())
        {
            await client.EchoAsync("{}");
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        }
        await first.WaitForEventAsync(ConnectionEventTypes.Disconnect, count: 2);
        await second.WaitForEventAsync(ConnectionEventTypes.Disconnect);

        var one = await ScrapeAsync(first);
        var two = await ScrapeAsync(second);

        Assert.Equal(2, one["cdp_gateway_connections_total{target=\"browser\"}"]);
        Assert.Equal(1, two["cdp_gateway_connections_total{target=\"browser\"}"]);
        Assert.Equal(2 * Encoding.UTF8.GetByteCount(Click), one["cdp_gateway_bytes_total{from=\"client\"}"]);
        Assert.Equal(2, two["cdp_gateway_bytes_total{from=\"client\"}"]);
        Assert.Equal(2, one["cdp_gateway_dial_duration_seconds_count{outcome=\"ok\"}"]);
        Assert.Equal(1, two["cdp_gateway_dial_duration_seconds_count{outcome=\"ok\"}"]);
        Assert.Equal(2, one["cdp_gateway_connection_duration_seconds_count{reason=\"client_close\"}"]);
        Assert.Equal(1, two["cdp_gateway_connection_duration_seconds_count{reason=\"client_close\"}"]);
        Assert.Equal(2, one["cdp_gateway_cdp_commands_total{method=\"Input.dispatchMouseEvent\"}"]);
        Assert.Equal(0, two["cdp_gateway_cdp_commands_total{method=\"Input.dispatchMouseEvent\"}"]);
        Assert.Equal(2, one["cdp_gateway_cdp_command_publish_lag_seconds_count"]);
        Assert.DoesNotContain("cdp_gateway_cdp_command_publish_lag_seconds_count", two.Samples.Keys);
    }

    [Fact]
    public async Task CountsAgreeWithTheEvents_ConnectionsDisconnectsByReasonAndTheirDurations()
    {
        await using var gw = await TestGateway.StartAsync();
        const int Connections = 3;
        var clients = new List<ClientWebSocket>();
        for (int i = 0; i < Connections; i++)
        {
            var client = await gw.ConnectAsync();
            await client.EchoAsync("{}");
            clients.Add(client);
        }
        // Two leave themselves; the browser drops the third (its end is not the client's).
        await clients[0].CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await clients[1].CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect, count: 2);
        await gw.Browser.CloseAllAsync(WebSocketCloseStatus.InternalServerError, "gone");
        await clients[2].WaitForCloseAsync();
        // The browser's end waits out the restart confirm wait (on the test's clock) before it is called upstream_error.
        await gw.AdvanceUntilAsync(gw.WaitForEventAsync(ConnectionEventTypes.Disconnect, count: Connections), TimeSpan.FromSeconds(1));
        clients.ForEach(c => c.Dispose());

        var metrics = await ScrapeAsync(gw);

        Assert.Equal(Connections, metrics["cdp_gateway_connections_total{target=\"browser\"}"]);
        Assert.Equal(Connections, gw.EventsOfType(ConnectionEventTypes.Connect).Count);
        var reasons = gw.EventsOfType(ConnectionEventTypes.Disconnect)
            .Select(e => e.GetProperty("event").GetProperty("data").GetProperty("reason").GetString()!).ToList();
        Assert.Equal(2, reasons.Distinct().Count());
        foreach (var reason in DisconnectReasons.All.Select(r => r.WireName()))
        {
            var ended = reasons.Count(r => r == reason);
            Assert.Equal(ended, metrics[$"cdp_gateway_disconnects_total{{reason=\"{reason}\"}}"]);
            Assert.Equal(ended, metrics.Samples.GetValueOrDefault($"cdp_gateway_connection_duration_seconds_count{{reason=\"{reason}\"}}"));
        }
        Assert.Equal(Connections, metrics["cdp_gateway_dial_duration_seconds_count{outcome=\"ok\"}"]);
        Assert.Equal(0, metrics["cdp_gateway_connections_open"]);
    }

    [Fact]
    public async Task MessagesAndBytesMoveWhileAConnectionIsOpen_AndEqualItsDisconnectCountsOnceItEnds()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync(Click);

        var live = await ScrapeAsync(gw);
        Assert.Equal(1, live["cdp_gateway_messages_total{from=\"client\"}"]);
        Assert.Equal(Encoding.UTF8.GetByteCount(Click), live["cdp_gateway_bytes_total{from=\"client\"}"]);
        Assert.Equal(Encoding.UTF8.GetByteCount(Click), live["cdp_gateway_bytes_total{from=\"upstream\"}"]);
        Assert.Single(gw.Services<OpenConnections>().Snapshot());

        await client.EchoAsync("{}");
        var later = await ScrapeAsync(gw);
        Assert.Equal(2, later["cdp_gateway_messages_total{from=\"client\"}"]);
        Assert.Equal(2, later["cdp_gateway_messages_total{from=\"upstream\"}"]);

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        var ended = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        var after = await ScrapeAsync(gw);

        Assert.Empty(gw.Services<OpenConnections>().Snapshot());
        Assert.Equal(ended.GetProperty("messages_from_client").GetInt64(), after["cdp_gateway_messages_total{from=\"client\"}"]);
        Assert.Equal(ended.GetProperty("messages_from_upstream").GetInt64(), after["cdp_gateway_messages_total{from=\"upstream\"}"]);
        Assert.Equal(ended.GetProperty("bytes_from_client").GetInt64(), after["cdp_gateway_bytes_total{from=\"client\"}"]);
        Assert.Equal(ended.GetProperty("bytes_from_upstream").GetInt64(), after["cdp_gateway_bytes_total{from=\"upstream\"}"]);
        Assert.Equal(Encoding.UTF8.GetByteCount(Click) + 2, after["cdp_gateway_bytes_total{from=\"client\"}"]);
    }

    [Fact]
    public async Task TargetInfoNamesTheInstance_AndBuildInfoTheVersionAndCommit()
    {
        await using var gw = await TestGateway.StartAsync(o => o.InstanceId = "metrics-web-7");

        var metrics = await ScrapeAsync(gw);

        var targetInfo = Assert.Single(metrics.Samples, s => s.Key.StartsWith("target_info{", StringComparison.Ordinal));
        Assert.Equal(1, targetInfo.Value);
        Assert.Contains("service_instance_id=\"metrics-web-7\"", targetInfo.Key);
        Assert.Contains("service_name=\"cdp-gateway\"", targetInfo.Key);
        Assert.Contains($"service_version=\"{GatewayVersion.Version}\"", targetInfo.Key);
        Assert.Equal("0.1.0", GatewayVersion.Version);
        Assert.Equal(1, metrics[$"cdp_gateway_build_info{{commit=\"{GatewayVersion.Commit}\",version=\"0.1.0\"}}"]);
        Assert.Matches("^([0-9a-f]{4,40}|unknown)$", GatewayVersion.Commit);
    }

    [Fact]
    public async Task APrometheusServerAskingForOpenMetricsGetsTheSameSeries()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync(Click);
        // The command worker records the click's publish lag just after publishing it: both scrapes must come after that.
        MetricsScrape plain = null!;
        await Eventually.TrueAsync(async () => (plain = await ScrapeAsync(gw)).Samples.Keys.Any(k =>
            k.StartsWith("cdp_gateway_cdp_command_publish_lag_seconds_count", StringComparison.Ordinal) && plain.Samples[k] == 1),
            "the click's publish lag recorded");

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, gw.ApiHttp("/metrics"));
        // What a Prometheus server sends.
        request.Headers.TryAddWithoutValidation("Accept",
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");
        using var response = await http.SendAsync(request);
        Assert.Equal("application/openmetrics-text", response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("# EOF\n", text);
        var openMetrics = MetricsScrape.Parse(text.Replace("# EOF\n", ""));

        // OpenMetrics adds a _created series per counter, which Prometheus does not store, and writes bucket bounds as
        // canonical floats (le="1.0"), which Prometheus reads as numbers; every series is otherwise the same.
        static IEnumerable<string> Stored(MetricsScrape scrape, string prefix) => scrape.Samples.Keys
            .Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !k.Contains("_created", StringComparison.Ordinal))
            .Select(k => Regex.Replace(k, "le=\"([^\"]+)\"", m => m.Groups[1].Value == "+Inf"
                ? m.Value
                : $"le=\"{double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)}\""))
            .Order();
        Assert.Equal(Stored(plain, "cdp_gateway_"), Stored(openMetrics, "cdp_gateway_"));
        Assert.Equal(plain["cdp_gateway_bytes_total{from=\"client\"}"], openMetrics["cdp_gateway_bytes_total{from=\"client\"}"]);
        Assert.Single(openMetrics.Samples.Keys, k => k.StartsWith("target_info{", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task OnlyGetReadsTheMetrics(string method)
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();

        using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), gw.ApiHttp("/metrics")));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.DoesNotContain("cdp_gateway_", await response.Content.ReadAsStringAsync());
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
