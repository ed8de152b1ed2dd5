using System.Net;
using System.Text.Json;
using CdpGateway.Telemetry;

namespace CdpGateway.Tests.Telemetry;

public sealed class TelemetryStreamEndpointTests
{
    // Only bounds a failing test; every wait below is for a condition, not for time to pass.
    private static CancellationTokenSource Guard() => new(TimeSpan.FromSeconds(30));

    private static void Publish(TelemetryTestServer server, int count)
    {
        for (int i = 0; i < count; i++)
        {
            server.Stream.PublishConnect($"c{i}");
        }
    }

    private static async Task<long[]> ReadIdsAsync(SseConnection sse, int count, CancellationToken cancellationToken)
    {
        var ids = new long[count];
        for (int i = 0; i < count; i++)
        {
            SseFrame frame = (await sse.ReadFrameAsync(cancellationToken))!;
            Assert.Null(frame.Event);
            ids[i] = long.Parse(frame.Id!);
            using JsonDocument envelope = JsonDocument.Parse(frame.Data!);
            Assert.Equal(ids[i], envelope.RootElement.GetProperty("seq").GetInt64());
        }
        return ids;
    }

    [Fact]
    public async Task AFreshConnectionSeesOnlyNewEvents()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        using var guard = Guard();
        Publish(server, 3);

        using SseConnection sse = await server.OpenStreamAsync(cancellationToken: guard.Token);
        Assert.Equal(HttpStatusCode.OK, sse.Response.StatusCode);
        Assert.Equal("text/event-stream", sse.Response.Content.Headers.ContentType?.MediaType);

        // The reader is positioned before the headers are sent, so events from now on are "new".
        Publish(server, 2);
        Assert.Equal(new long[] { 4L, 5 }, await ReadIdsAsync(sse, 2, guard.Token));
    }

    [Fact]
    public async Task EachEventCarriesItsSeqAsIdAndTheEnvelopeAsData()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        using var guard = Guard();
        using SseConnection sse = await server.OpenStreamAsync(cancellationToken: guard.Token);

        server.Stream.PublishConnect("conn-42");
        SseFrame frame = (await sse.ReadFrameAsync(guard.Token))!;
        Assert.Equal("1", frame.Id);
        Assert.Equal(server.Stream.Snapshot(0, 1, null)[0].ToString(), frame.Data);
    }

    [Fact]
    public async Task LastEventIDResumesAfterThatSeq()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        using var guard = Guard();
        Publish(server, 5);

        using SseConnection sse = await server.OpenStreamAsync(lastEventId: "2", cancellationToken: guard.Token);
        Assert.Equal(new long[] { 3L, 4, 5 }, await ReadIdsAsync(sse, 3, guard.Token));
        Publish(server, 1);
        Assert.Equal(new long[] { 6L }, await ReadIdsAsync(sse, 1, guard.Token));
    }

    [Fact]
    public async Task LastEventIDWinsOverReplayAll()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        using var guard = Guard();
        Publish(server, 5);

        using SseConnection sse = await server.OpenStreamAsync("?replay=all", lastEventId: "4", cancellationToken: guard.Token);
        Assert.Equal(new long[] { 5L }, await ReadIdsAsync(sse, 1, guard.Token));
    }

    [Fact]
    public async Task ReplayAllStartsAtTheOldestRetainedEvent()
    {
        await using var server = await TelemetryTestServer.StartAsync(capacity: 4);
        using var guard = Guard();
        Publish(server, 6);

        using SseConnection sse = await server.OpenStreamAsync("?replay=all", cancellationToken: guard.Token);
        Assert.Equal(new long[] { 3L, 4, 5, 6 }, await ReadIdsAsync(sse, 4, guard.Token));
    }

    [Fact]
    public async Task AClientResumingBehindTheRingIsToldHowManyItMissed()
    {
        await using var server = await TelemetryTestServer.StartAsync(capacity: 4);
        using var guard = Guard();
        Publish(server, 10);

        using SseConnection sse = await server.OpenStreamAsync(lastEventId: "3", cancellationToken: guard.Token);
        SseFrame missed = (await sse.ReadFrameAsync(guard.Token))!;
        Assert.Equal("missed", missed.Event);
        Assert.Null(missed.Id);
        Assert.Equal("""{"missed":3}""", missed.Data); // wanted 4..10, the ring holds 7..10
        Assert.Equal(new long[] { 7L, 8, 9, 10 }, await ReadIdsAsync(sse, 4, guard.Token));
    }

    [Fact]
    public async Task ALastEventIDFromAPreviousProcessReplaysWhatIsRetained()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        using var guard = Guard();
        Publish(server, 2);

        using SseConnection sse = await server.OpenStreamAsync(lastEventId: "500", cancellationToken: guard.Token);
        Assert.Equal(new long[] { 1L, 2 }, await ReadIdsAsync(sse, 2, guard.Token));
    }

    [Fact]
    public async Task AKeepaliveCommentIsSentAfter15QuietSeconds()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        using var guard = Guard();
        using SseConnection sse = await server.OpenStreamAsync(cancellationToken: guard.Token);
        Assert.Equal(TimeSpan.FromSeconds(15), TelemetryEndpoints.StreamKeepaliveInterval);

        // The keepalive timer is armed before the headers are flushed, so advancing the clock now is not a race.
        server.Time.Advance(TimeSpan.FromSeconds(15));
        Assert.True((await sse.ReadFrameAsync(guard.Token))!.IsKeepalive);

        // Armed again before the keepalive was flushed: 14 s are not enough, an event arriving then comes first.
        server.Time.Advance(TimeSpan.FromSeconds(14));
        server.Stream.PublishConnect("x");
        Assert.Equal(new long[] { 1L }, await ReadIdsAsync(sse, 1, guard.Token));

        // The event restarted the quiet period: 15 s after it, the next keepalive.
        server.Time.Advance(TimeSpan.FromSeconds(15));
        Assert.True((await sse.ReadFrameAsync(guard.Token))!.IsKeepalive);
    }

    [Fact]
    public async Task TheStreamEndsCleanlyWhenTheApplicationStops()
    {
        await using var server = await TelemetryTestServer.StartAsync();
        using var guard = Guard();
        using SseConnection sse = await server.OpenStreamAsync(cancellationToken: guard.Token);
        server.Stream.PublishConnect("x");
        Assert.Equal(new long[] { 1L }, await ReadIdsAsync(sse, 1, guard.Token));

        Task stopping = server.App.StopAsync(guard.Token);
        Assert.Null(await sse.ReadFrameAsync(guard.Token));
        await stopping;
    }

    [Theory]
    [InlineData("", "abc", "Last-Event-ID")]
    [InlineData("", "-1", "Last-Event-ID")]
    [InlineData("?replay=some", null, "replay")]
    public async Task BadResumeValuesAreRefusedWith400(string query, string? lastEventId, string parameter)
    {
        await using var server = await TelemetryTestServer.StartAsync();
        using var guard = Guard();
        using SseConnection sse = await server.OpenStreamAsync(query, lastEventId, guard.Token);

        Assert.Equal(HttpStatusCode.BadRequest, sse.Response.StatusCode);
        using JsonDocument body = JsonDocument.Parse(await sse.ReadRestAsync(guard.Token));
        Assert.Contains(parameter, body.RootElement.GetProperty("error").GetString());
    }
}
