using System.Net;
using System.Text.Json;
using CdpGateway.Telemetry;

namespace CdpGateway.Tests.Telemetry;

public sealed class TelemetryEventsEndpointTests
{
    private static async Task<long[]> GetSeqsAsync(TelemetryTestServer server, string query)
    {
        using HttpResponseMessage response = await server.Client.GetAsync("/telemetry/events" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.EnumerateArray().Select(e =>
        {
            Assert.True(e.GetProperty("event").TryGetProperty("ts", out _));
            return e.GetProperty("seq").GetInt64();
        }).ToArray();
    }

    [Fact]
    public async Task NoEventsIsAnEmptyArray()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        Assert.Equal("[]", await server.Client.GetStringAsync("/telemetry/events"));
    }

    [Fact]
    public async Task EventsAreFilteredByAfterLimitAndCategoryInAscendingSeq()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        string[] categories = [EventCategory.Connection, EventCategory.System, EventCategory.Connection, EventCategory.Control];
        foreach (string category in categories)
        {
            server.Stream.PublishConnect("x", category);
        }

        Assert.Equal(new long[] { 1L, 2, 3, 4 }, await GetSeqsAsync(server, ""));
        Assert.Equal(new long[] { 3L, 4 }, await GetSeqsAsync(server, "?after=2"));
        Assert.Equal(new long[] { 2L, 3 }, await GetSeqsAsync(server, "?after=1&limit=2"));
        Assert.Equal(new long[] { 1L, 3 }, await GetSeqsAsync(server, "?category=connection"));
        Assert.Equal(new long[] { 3L }, await GetSeqsAsync(server, "?after=1&category=connection"));
        Assert.Equal(new long[] { 4L }, await GetSeqsAsync(server, "?category=control&limit=8192"));
        Assert.Empty(await GetSeqsAsync(server, "?after=4"));
        // Above the maximum is capped, not refused.
        Assert.Equal(new long[] { 1L, 2, 3, 4 }, await GetSeqsAsync(server, "?limit=100000"));
    }

    [Fact]
    public async Task TheDefaultLimitIs1000()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        for (int i = 0; i < 1005; i++)
        {
            server.Stream.PublishConnect("x");
        }
        long[] seqs = await GetSeqsAsync(server, "");
        Assert.Equal(1000, seqs.Length);
        Assert.Equal(1, seqs[0]);
        Assert.Equal(1000, seqs[^1]);
    }

    [Theory]
    [InlineData("?after=abc", "after")]
    [InlineData("?after=-1", "after")]
    [InlineData("?after=", "after")]
    [InlineData("?after=1&after=2", "after")]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=-5", "limit")]
    [InlineData("?limit=ten", "limit")]
    [InlineData("?category=bogus", "category")]
    [InlineData("?category=", "category")]
    public async Task BadQueryValuesAreRefusedWith400NamingTheParameter(string query, string parameter)
    {
        await using var server = await TelemetryTestServer.StartAsync();
        using HttpResponseMessage response = await server.Client.GetAsync("/telemetry/events" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith(parameter, body.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task TelemetryStatusShowsConfigSeqAndDroppedCount()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        server.Stream.PublishConnect("a");
        server.Stream.PublishConnect("b");
        server.Stream.Publish("broken", EventCategory.System, new UnserializableData(), TestJsonContext.Default.UnserializableData);
        server.Config.SetEnabled(EventCategory.System, false);

        string json = await server.Client.GetStringAsync("/telemetry");

        Assert.Equal(
            """{"config":{"connection":{"enabled":true},"control":{"enabled":true,"cdp":{"excluded_methods":[]}},"system":{"enabled":false}},"seq":2,"dropped_events":1,"nats":null}""",
            json);
    }
}
