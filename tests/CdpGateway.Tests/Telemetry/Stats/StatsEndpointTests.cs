using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Stats;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Telemetry.Stats;

[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class StatsEndpointTests
{
    private const string Click = """{"id":7,"method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":10,"y":20,"button":"left","clickCount":1}}""";

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(TestGateway gw, string query)
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(gw.ApiHttp("/stats" + query));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static long[] Series(JsonElement stats, string name) => [.. stats.GetProperty(name).EnumerateArray().Select(v => v.GetInt64())];

    /// <summary>Moves the fake clock one sampling step once the relay has counted what the test sent.</summary>
    private static async Task TickAfterAsync(TestGateway gw, long messagesFromClient, long messagesFromUpstream)
    {
        var open = gw.Services<OpenConnections>();
        await Eventually.TrueAsync(() => open.Traffic() is var t && t.MessagesFromClient == messagesFromClient && t.MessagesFromUpstream == messagesFromUpstream,
            "the relay counting the messages sent so far");
        gw.Clock.Advance(StatsSampler.SecondStep);
    }

    [Fact]
    public async Task ThreeSecondsOfKnownTrafficGiveExactlyThoseValuesPerSecond()
    {
        await using var gw = await TestGateway.StartAsync();
        var startedAt = gw.Clock.GetUtcNow();

        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        await client.EchoAsync(Click);
        await Eventually.TrueAsync(() => gw.EventsOfType("cdp_command").Count == 1, "the click reported");
        await TickAfterAsync(gw, 2, 2);
        await client.EchoAsync("abcd");
        await TickAfterAsync(gw, 3, 3);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        gw.Clock.Advance(StatsSampler.SecondStep);

        var (status, stats) = await GetAsync(gw, "?window=60s");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, stats.GetProperty("step_s").GetInt32());
        Assert.Equal(3, stats.GetProperty("samples").GetInt32());
        Assert.Equal(startedAt, DateTimeOffset.Parse(stats.GetProperty("start").GetString()!, CultureInfo.InvariantCulture), TimeSpan.FromMilliseconds(1));
        Assert.Equal([1L, 1L, 0L], Series(stats, "connections_open"));
        Assert.Equal([1L, 0L, 0L], Series(stats, "connects"));
        Assert.Equal([0L, 0L, 1L], Series(stats.GetProperty("ends"), "client_close"));
        Assert.Equal([0L, 0L, 0L], Series(stats.GetProperty("ends"), "upstream_error"));
        Assert.Equal([2L, 1L, 0L], Series(stats, "messages_from_client"));
        Assert.Equal([2L, 1L, 0L], Series(stats, "messages_from_upstream"));
        Assert.Equal([2L + Click.Length, 4L, 0L], Series(stats, "bytes_from_client"));
        Assert.Equal([2L + Click.Length, 4L, 0L], Series(stats, "bytes_from_upstream"));
        Assert.Equal([1L, 0L, 0L], Series(stats, "commands"));
        // The gateway's sampler started before the test's browser was announced: starting, then ready in the first second.
        Assert.Equal([1L, 0L, 0L], Series(stats, "chromium_changes"));
        Assert.Equal(["ready", "ready", "ready"], stats.GetProperty("chromium_state").EnumerateArray().Select(s => s.GetString()));
    }

    [Fact]
    public async Task TheConnectsOverTheWindowAddUpToTheScrapedConnectionsTotal()
    {
        await using var gw = await TestGateway.StartAsync();
        var before = (await MetricsScrape.FromAsync(gw))["cdp_gateway_connections_total{target=\"browser\"}"];

        for (int i = 0; i < 5; i++)
        {
            using var client = await gw.ConnectAsync();
            await client.EchoAsync("{}");
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect, i + 1);
            gw.Clock.Advance(TimeSpan.FromMilliseconds(700));
        }
        gw.Clock.Advance(StatsSampler.SecondStep);
        var after = (await MetricsScrape.FromAsync(gw))["cdp_gateway_connections_total{target=\"browser\"}"];
        var (_, stats) = await GetAsync(gw, "?window=15m");
        var (_, byDefault) = await GetAsync(gw, "");

        Assert.Equal(after - before, Series(stats, "connects").Sum());
        Assert.Equal(5, Series(stats, "connects").Sum());
        Assert.Equal(5, Series(stats.GetProperty("ends"), "client_close").Sum());
        Assert.Equal(stats.GetProperty("samples").GetInt32(), Series(stats, "connects").Length);
        Assert.Equal("15m", byDefault.GetProperty("window").GetString());
        Assert.Equal(Series(stats, "connects"), Series(byDefault, "connects"));
    }

    [Fact]
    public async Task TheHourWindowUsesTheMinuteSeries()
    {
        await using var gw = await TestGateway.StartAsync();
        using (var client = await gw.ConnectAsync())
        {
            await client.EchoAsync("{}");
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        }
        gw.Clock.Advance(TimeSpan.FromSeconds(150));

        var (_, hour) = await GetAsync(gw, "?window=1h");
        var (_, day) = await GetAsync(gw, "?window=24h");

        Assert.Equal(60, hour.GetProperty("step_s").GetInt32());
        Assert.Equal([1L, 0L], Series(hour, "connects"));
        Assert.Equal([1L, 0L], Series(hour, "messages_from_client"));
        Assert.Equal(Series(hour, "connects"), Series(day, "connects"));
    }

    [Theory]
    [InlineData("?window=15")]
    [InlineData("?window=2h")]
    [InlineData("?window=")]
    [InlineData("?window=15M")]
    [InlineData("?window=15m&window=1h")]
    [InlineData("?window=-1s")]
    public async Task AWindowOtherThanTheFourAcceptedIsRefusedWithAClearMessage(string query)
    {
        await using var gw = await TestGateway.StartAsync();

        var (status, body) = await GetAsync(gw, query);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("window must be one of 60s, 15m, 1h, 24h", body.GetProperty("error").GetString());
    }
}
