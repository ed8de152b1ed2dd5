using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using CdpGateway.Telemetry.Nats;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>
/// <c>--nats-url</c> on a whole gateway (real sockets, a fake browser) against a real nats-server: what connections
/// publish reaches the stream exactly once and in order, NATS going away costs clients nothing, a full spool is counted
/// exactly, and the state shows in <c>/telemetry</c> and <c>/health</c> without secrets.
/// </summary>
public sealed class NatsGatewayTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];
    private static readonly HttpClient Http = new();

    private async Task<NatsServerProcess> StartServerAsync(params string[] args)
    {
        var server = await NatsServerProcess.StartAsync(args);
        _owned.Add(server);
        return server;
    }

    private async Task<TestGateway> StartGatewayAsync(Action<CdpGateway.Hosting.GatewayOptions> configure)
    {
        var gateway = await TestGateway.StartAsync(configure);
        _owned.Add(gateway);
        return gateway;
    }

    /// <summary>Well under what waiting for NATS would take: the outage's 10 s, or a publish's 3 s ack timeout.</summary>
    private static readonly TimeSpan NoWaitOnNats = TimeSpan.FromSeconds(2);

    /// <summary>Opens a connection, echoes one message through it within a bound, closes it.</summary>
    private static async Task RoundTripAsync(TestGateway gateway, int i, TimeSpan bound)
    {
        var watch = Stopwatch.StartNew();
        using var client = await gateway.ConnectAsync();
        var text = $"{{\"id\":{i},\"method\":\"Echo.test\"}}";
        Assert.Equal(text, await client.EchoAsync(text));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        Assert.True(watch.Elapsed < bound, $"round trip {i} took {watch.Elapsed.TotalMilliseconds:0} ms");
    }

    private static Task AllAckedAsync(TestGateway gateway, NatsEventSink sink) => Eventually.TrueAsync(
        () => sink.Published >= gateway.App.Events.Seq && sink.SpooledEvents == 0 && sink.Pending == 0,
        () => $"all {gateway.App.Events.Seq} events acked (published {sink.Published}, spooled {sink.SpooledEvents}, pending {sink.Pending}, last error {sink.Status().LastError})");

    private static async Task<JsonElement> GetJsonAsync(Uri uri)
    {
        using var response = await Http.GetAsync(uri);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Fact]
    public async Task ConnectionsThroughTheGateway_ReachTheStreamOnceEachInSeqOrderOnTheirSubjects()
    {
        var server = await StartServerAsync();
        var gateway = await StartGatewayAsync(o => { o.NatsUrl = server.Url; o.InstanceId = "gw-a"; });
        for (int i = 0; i < 150; i++)
        {
            await RoundTripAsync(gateway, i, TestGateway.Patience);
        }
        await gateway.WaitForEventAsync("cdp_disconnect", 150);
        var sink = gateway.Services<NatsEventSink>();
        await AllAckedAsync(gateway, sink);

        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        var boot = gateway.App.Events.Source.BootId;
        long seq = gateway.App.Events.Seq;
        Assert.Equal(300, seq);
        JetStreamContents.AssertExactly(stored, "gw-a", boot, Enumerable.Range(1, (int)seq).Select(i => (long)i));
        var published = gateway.App.Events.Snapshot(0, 8192, null);
        for (int i = 0; i < stored.Count; i++)
        {
            Assert.Equal($"cdp.gw-a.connection.{published[i].Type}", stored[i].Subject);
            Assert.Equal(published[i].ToString(), stored[i].Json);
        }
        var telemetry = await GetJsonAsync(gateway.ApiHttp("/telemetry"));
        Assert.True(telemetry.GetProperty("nats").GetProperty("connected").GetBoolean());
        Assert.Equal(seq, telemetry.GetProperty("nats").GetProperty("published").GetInt64());

        // /metrics carries every documented NATS family, with the same counts.
        var metrics = await MetricsScrape.FromAsync(gateway);
        Assert.All(DocumentedMetrics.Families("NATS metric"), family => Assert.True(metrics.Families.ContainsKey(family), $"{family} missing"));
        await Promtool.AssertStrictAsync(metrics.Text);
        Assert.Equal(seq, metrics["cdp_gateway_nats_published_total"]);
        Assert.Equal(0, metrics["cdp_gateway_nats_dropped_total"]);
        Assert.Equal(1, metrics["cdp_gateway_nats_connected"]);

        // GET's whole answer, nats member included, goes back through PUT unchanged.
        using var put = await Http.PutAsync(gateway.ApiHttp("/telemetry"), new StringContent(telemetry.GetRawText(), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.OK, put.StatusCode);
    }

    [Fact]
    public async Task NatsKilledForTenSeconds_NothingIsLostOrDuplicated_AndClientsKeepTheirRoundTrips()
    {
        var server = await StartServerAsync();
        var gateway = await StartGatewayAsync(o => { o.NatsUrl = server.Url; o.InstanceId = "gw-b"; });
        var sink = gateway.Services<NatsEventSink>();
        for (int i = 0; i < 20; i++)
        {
            await RoundTripAsync(gateway, i, TestGateway.Patience);
        }

        await server.KillAsync();
        var down = Stopwatch.StartNew();
        int n = 20;
        // Paced, so the run's events stay within the ring the test reads them back from.
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(40));
        while (down.Elapsed < TimeSpan.FromSeconds(10) && await pace.WaitForNextTickAsync())
        {
            // NATS being away must not slow a client: each whole round trip (connect, echo, close) well under what a
            // relay that waited for NATS would take (the outage's 10 s, or at least a publish's 3 s ack timeout). Two
            // seconds, not one: a loaded machine's connection set-up once took just over a second.
            await RoundTripAsync(gateway, n++, NoWaitOnNats);
        }
        await Eventually.TrueAsync(() => sink.SpooledBytes > 0, "events wait on disk while NATS is down");
        using (var health = await Http.GetAsync(gateway.ApiHttp("/health")))
        {
            // Health is about the browser: NATS being away shows, but does not make the gateway unhealthy.
            Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
            var nats = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("nats");
            Assert.False(nats.GetProperty("connected").GetBoolean());
            Assert.True(nats.GetProperty("spooled_bytes").GetInt64() > 0);
            Assert.False(string.IsNullOrEmpty(nats.GetProperty("last_error").GetString()));
        }

        await server.StartAgainAsync();
        await gateway.WaitForEventAsync("cdp_disconnect", n);
        await AllAckedAsync(gateway, sink);
        Assert.Equal(0, sink.SpooledBytes);
        Assert.True(sink.Retried > 0);

        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        long seq = gateway.App.Events.Seq;
        Assert.Equal(2 * n, seq);
        Assert.Equal(seq, stored.Count);
        JetStreamContents.AssertExactly(stored, "gw-b", gateway.App.Events.Source.BootId, Enumerable.Range(1, (int)seq).Select(i => (long)i));
    }

    [Fact]
    public async Task NatsBackWithItsStoreWiped_EveryEventItHadNotAcknowledgedArrivesOnceInOrder_AndClientsKeepTheirRoundTrips()
    {
        var server = await StartServerAsync();
        var gateway = await StartGatewayAsync(o => { o.NatsUrl = server.Url; o.InstanceId = "gw-w"; });
        var sink = gateway.Services<NatsEventSink>();
        int n = 0;
        for (; n < 10; n++)
        {
            await RoundTripAsync(gateway, n, TestGateway.Patience);
        }
        await gateway.WaitForEventAsync("cdp_disconnect", n);
        await AllAckedAsync(gateway, sink);
        long ackedBeforeTheWipe = gateway.App.Events.Seq;

        await server.KillAsync();
        server.WipeStore();
        for (; n < 20; n++)
        {
            await RoundTripAsync(gateway, n, NoWaitOnNats);
        }
        await gateway.WaitForEventAsync("cdp_disconnect", n);
        await Eventually.TrueAsync(() => sink.SpooledBytes > 0, "events wait on disk while NATS is down");
        await server.StartAgainAsync();
        for (; n < 30; n++)
        {
            await RoundTripAsync(gateway, n, TestGateway.Patience);
        }
        await gateway.WaitForEventAsync("cdp_disconnect", n);
        await AllAckedAsync(gateway, sink);

        // What the old store had acknowledged went with it; the stream is created again and holds everything after.
        long seq = gateway.App.Events.Seq;
        Assert.Equal(2 * n, seq);
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        JetStreamContents.AssertExactly(stored, "gw-w", gateway.App.Events.Source.BootId,
            Enumerable.Range((int)ackedBeforeTheWipe + 1, (int)(seq - ackedBeforeTheWipe)).Select(i => (long)i));
        Assert.Equal(seq - ackedBeforeTheWipe, stored.Count);
        Assert.Equal(0, sink.Dropped);
    }

    [Fact]
    public async Task GatewayRestartedWithEventsInItsSpool_SendsThemAfterTheRestart_BeforeItsNewOnes()
    {
        var server = await StartServerAsync();
        await server.KillAsync();
        var dataDir = Path.Combine(Path.GetTempPath(), "cdpgw-test-" + Guid.NewGuid().ToString("N"));
        var first = await StartGatewayAsync(o => { o.NatsUrl = server.Url; o.InstanceId = "gw-r"; o.DataDir = dataDir; });
        for (int i = 0; i < 10; i++)
        {
            await RoundTripAsync(first, i, NoWaitOnNats);
        }
        await first.WaitForEventAsync("cdp_disconnect", 10);
        var firstSink = first.Services<NatsEventSink>();
        long firstSeq = first.App.Events.Seq;
        await Eventually.TrueAsync(() => firstSink.SpooledEvents == firstSeq, () => $"all {firstSeq} events on disk (spooled {firstSink.SpooledEvents})");
        string firstBoot = first.App.Events.Source.BootId;
        await first.StopKeepingDataDirAsync();

        await server.StartAgainAsync();
        var second = await StartGatewayAsync(o => { o.NatsUrl = server.Url; o.InstanceId = "gw-r"; o.DataDir = dataDir; });
        var sink = second.Services<NatsEventSink>();
        for (int i = 0; i < 5; i++)
        {
            await RoundTripAsync(second, i, TestGateway.Patience);
        }
        await second.WaitForEventAsync("cdp_disconnect", 5);
        long secondSeq = second.App.Events.Seq;
        await Eventually.TrueAsync(() => sink.Published >= firstSeq + secondSeq && sink.SpooledEvents == 0 && sink.Pending == 0,
            () => $"{firstSeq} old and {secondSeq} new events acked (published {sink.Published}, spooled {sink.SpooledEvents}, last error {sink.Status().LastError})");

        // The first boot's events first, under their own boot's Msg-Ids, then the second boot's.
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        Assert.Equal(firstSeq + secondSeq, stored.Count);
        Assert.All(stored.Take((int)firstSeq), e => Assert.Equal(firstBoot, e.Boot));
        JetStreamContents.AssertExactly(stored, "gw-r", firstBoot, Enumerable.Range(1, (int)firstSeq).Select(i => (long)i));
        JetStreamContents.AssertExactly(stored, "gw-r", second.App.Events.Source.BootId, Enumerable.Range(1, (int)secondSeq).Select(i => (long)i));
    }

    [Fact]
    public async Task SpoolFullWhileNatsIsDown_DropsAreCountedExactly_AndTheRelayNeverWaits()
    {
        var server = await StartServerAsync();
        await server.KillAsync();
        var gateway = await StartGatewayAsync(o => { o.NatsUrl = server.Url; o.InstanceId = "gw-c"; o.NatsSpoolBytes = 4096; });
        var sink = gateway.Services<NatsEventSink>();
        for (int i = 0; i < 40; i++)
        {
            await RoundTripAsync(gateway, i, NoWaitOnNats);
        }
        await gateway.WaitForEventAsync("cdp_disconnect", 40);
        long seq = gateway.App.Events.Seq;
        await Eventually.TrueAsync(() => sink.Spooled + sink.Dropped == seq, () => $"all {seq} events spooled or dropped ({sink.Spooled} + {sink.Dropped})");

        // Every event is either on disk or counted as dropped, exactly once, and the counts agree everywhere.
        Assert.True(sink.Dropped > 0);
        Assert.True(sink.SpooledBytes <= 4096);
        Assert.Equal(sink.Spooled, sink.SpooledEvents);
        Assert.Equal(sink.Dropped, gateway.App.Events.DroppedEvents);
        var telemetry = await GetJsonAsync(gateway.ApiHttp("/telemetry"));
        Assert.Equal(sink.Dropped, telemetry.GetProperty("dropped_events").GetInt64());
        Assert.Equal(sink.Dropped, telemetry.GetProperty("nats").GetProperty("dropped").GetInt64());
        Assert.Equal(sink.Spooled, telemetry.GetProperty("nats").GetProperty("spooled_events").GetInt64());
        var metrics = await MetricsScrape.FromAsync(gateway);
        Assert.Equal(sink.Dropped, metrics["cdp_gateway_nats_dropped_total"]);
        Assert.Equal(sink.Spooled, metrics["cdp_gateway_nats_spooled_total"]);
        Assert.Equal(sink.SpooledBytes, metrics["cdp_gateway_nats_spool_bytes"]);

        // The spool kept the oldest events; once NATS is back exactly those arrive, in order.
        long kept = sink.Spooled;
        await server.StartAgainAsync();
        await Eventually.TrueAsync(() => sink.Published == kept && sink.SpooledEvents == 0, () => $"{kept} spooled events sent (published {sink.Published})");
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        JetStreamContents.AssertExactly(stored, "gw-c", gateway.App.Events.Source.BootId, Enumerable.Range(1, (int)kept).Select(i => (long)i));
    }

    [Fact]
    public async Task WrongNatsPassword_ShowsAsAnError_WithoutThePasswordInHealthTelemetryOrTheSpool()
    {
        const string secret = "correct-horse-battery-staple";
        const string wrong = "wrong-horse-battery-staple";
        var server = await StartServerAsync("--user", "gateway", "--pass", secret);
        var gateway = await StartGatewayAsync(o => { o.NatsUrl = server.Url; o.NatsUser = "gateway"; o.NatsPassword = wrong; });
        var sink = gateway.Services<NatsEventSink>();
        await RoundTripAsync(gateway, 0, TestGateway.Patience);
        await Eventually.TrueAsync(() => sink.Status().LastError is not null, "the refused login shows as the last error");

        foreach (var path in new[] { "/health", "/telemetry" })
        {
            using var response = await Http.GetAsync(gateway.ApiHttp(path));
            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain(wrong, body, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
            Assert.Contains("\"nats\":{", body, StringComparison.Ordinal);
        }
        Assert.Equal(0, sink.Connected);
    }

    [Fact]
    public async Task RightNatsToken_Publishes()
    {
        var server = await StartServerAsync("--auth", "s3cret-token-for-nats");
        var gateway = await StartGatewayAsync(o => { o.NatsUrl = server.Url; o.NatsToken = "s3cret-token-for-nats"; o.InstanceId = "gw-d"; });
        await RoundTripAsync(gateway, 0, TestGateway.Patience);
        await gateway.WaitForEventAsync("cdp_disconnect");
        var sink = gateway.Services<NatsEventSink>();
        await AllAckedAsync(gateway, sink);
        Assert.Equal(1, sink.Connected);
    }

    [Fact]
    public async Task WithoutNatsUrl_TelemetryShowsNatsAsNull_AndHealthLeavesItOut()
    {
        var gateway = await StartGatewayAsync(_ => { });
        var telemetry = await GetJsonAsync(gateway.ApiHttp("/telemetry"));
        Assert.Equal(JsonValueKind.Null, telemetry.GetProperty("nats").ValueKind);
        var health = await GetJsonAsync(gateway.ApiHttp("/health"));
        Assert.False(health.TryGetProperty("nats", out _));
        Assert.Null(gateway.Services<NatsEventSink>());
        var metrics = await MetricsScrape.FromAsync(gateway);
        Assert.DoesNotContain(metrics.Families.Keys, family => family.StartsWith("cdp_gateway_nats_", StringComparison.Ordinal));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xUnit 2 disposes a test class only through IDisposable or IAsyncLifetime.
    public async Task DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }
}
