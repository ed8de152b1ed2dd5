using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Nats;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>
/// The NATS sink on its own, against a real nats-server: outages, a wiped store, a restart with a full spool, a torn
/// spool tail. Events are published straight onto an <see cref="EventStream"/>; a test consumer reads the stream back.
/// </summary>
public sealed class NatsEventSinkTests : IAsyncLifetime
{
    private const string Instance = "gw-test";
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "cdpgw-nats-sink-" + Guid.NewGuid().ToString("N"));
    private readonly List<IAsyncDisposable> _owned = [];

    private string SpoolDir => Path.Combine(_dataDir, "nats-spool");

    private static EventStream NewStream(string boot) => NatsTestSinks.NewStream(Instance, boot);

    private NatsEventSink NewSink(EventStream stream, string url, RecordingLogger<NatsEventSink>? logger = null, long spoolBytes = NatsSinkOptions.DefaultSpoolBytes,
        string? user = null, string? password = null) =>
        NatsTestSinks.NewSink(NatsTestSinks.Options(url, SpoolDir) with { User = user, Password = password, SpoolBytes = spoolBytes }, stream, logger);

    private async Task<NatsServerProcess> StartServerAsync()
    {
        var server = await NatsServerProcess.StartAsync();
        _owned.Add(server);
        return server;
    }

    private static void Publish(EventStream stream, int count) => NatsTestSinks.Publish(stream, count);

    private static Task AllAckedAsync(NatsEventSink sink, long published) => Eventually.TrueAsync(
        () => sink.Published >= published && sink.SpooledEvents == 0 && sink.Pending == 0,
        () => $"{published} events acked (published {sink.Published}, spooled {sink.SpooledEvents}, pending {sink.Pending}, last error {sink.Status().LastError})");

    [Fact]
    public async Task StoreWipedAtRestart_EveryEventNotAckedBeforeTheWipeArrivesOnceInOrder()
    {
        var server = await StartServerAsync();
        var stream = NewStream("aaaaaaaaaaa1");
        await using var sink = NewSink(stream, server.Url);
        Publish(stream, 40);
        await AllAckedAsync(sink, 40);

        await server.KillAsync();
        server.WipeStore();
        Publish(stream, 40);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 40, "the events published while NATS is down are on disk");
        await server.StartAgainAsync();
        Publish(stream, 20);
        await AllAckedAsync(sink, 100);

        // Events 1..40 were acknowledged by the old store and went with it: a wiped store cannot be helped. Every event
        // the old store had not acknowledged (41..100: spooled while it was down, or published after it came back)
        // must be on the recreated stream, once each, in seq order, under its own Msg-Id.
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaaa1", Enumerable.Range(41, 60).Select(i => (long)i));
        Assert.Equal(60, stored.Count);
    }

    [Fact]
    public async Task GatewayStoppedWithAFullSpool_TheNextBootSendsTheOldEventsFirstWithTheirMsgIds()
    {
        var server = await StartServerAsync();
        await server.KillAsync();
        var first = NewStream("aaaaaaaaaaa2");
        var sink = NewSink(first, server.Url);
        Publish(first, 30);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 30, "30 events spooled while NATS is down");
        await sink.DisposeAsync();

        await server.StartAgainAsync();
        var second = NewStream("bbbbbbbbbbb2");
        await using var next = NewSink(second, server.Url);
        Publish(second, 20);
        await AllAckedAsync(next, 50);

        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        Assert.Equal(50, stored.Count);
        Assert.All(stored.Take(30), e => Assert.Equal("aaaaaaaaaaa2", e.Boot));
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaaa2", Enumerable.Range(1, 30).Select(i => (long)i));
        JetStreamContents.AssertExactly(stored, Instance, "bbbbbbbbbbb2", Enumerable.Range(1, 20).Select(i => (long)i));
    }

    [Fact]
    public async Task SpoolOfManyEvents_IsSentWithManyPublishesInFlightAtOnce_OnceEachInSeqOrder()
    {
        var server = await StartServerAsync();
        await server.KillAsync();
        var first = NewStream("aaaaaaaaaaa9");
        var sink = NewSink(first, server.Url);
        Publish(first, 3000);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 3000, "3000 events spooled while NATS is down");
        await sink.DisposeAsync();

        // The next boot finds them all waiting: the window fills from the spool before the first ack can arrive.
        await server.StartAgainAsync();
        var second = NewStream("bbbbbbbbbbb9");
        await using var next = NewSink(second, server.Url);
        Publish(second, 2000);
        await AllAckedAsync(next, 5000);

        Assert.True(next.MaxInFlight > 1, $"at most {next.MaxInFlight} publish in flight at once");
        Assert.True(next.MaxInFlight <= NatsEventSink.WindowSize, $"{next.MaxInFlight} in flight, beyond the window");
        Assert.Equal(0, next.Dropped);
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        Assert.Equal(5000, stored.Count);
        Assert.All(stored.Take(3000), e => Assert.Equal("aaaaaaaaaaa9", e.Boot));
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaaa9", Enumerable.Range(1, 3000).Select(i => (long)i));
        JetStreamContents.AssertExactly(stored, Instance, "bbbbbbbbbbb9", Enumerable.Range(1, 2000).Select(i => (long)i));
    }

    [Fact]
    public async Task TornSpoolTail_IsDiscardedWithAWarning_AndTheWholeRecordsAreSent()
    {
        var server = await StartServerAsync();
        await server.KillAsync();
        var first = NewStream("aaaaaaaaaaa3");
        var sink = NewSink(first, server.Url);
        Publish(first, 10);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 10, "10 events spooled while NATS is down");
        await sink.DisposeAsync();

        // A crash in the middle of an append: a length that promises more than follows.
        var segment = Directory.GetFiles(SpoolDir, "*.seg").Order().Last();
        await File.AppendAllBytesAsync(segment, [200, 0, 0, 0, 1, 2, 3, 4, 5]);

        await server.StartAgainAsync();
        var logger = new RecordingLogger<NatsEventSink>();
        await using var next = NewSink(NewStream("bbbbbbbbbbb3"), server.Url, logger);
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains(segment, StringComparison.Ordinal) && e.Message.Contains("9 bytes discarded", StringComparison.Ordinal));
        await AllAckedAsync(next, 10);
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaaa3", Enumerable.Range(1, 10).Select(i => (long)i));
    }

    [Fact]
    public async Task CorruptRecordInTheSpool_EndsItsSegmentThere_WithAWarning()
    {
        var server = await StartServerAsync();
        await server.KillAsync();
        var first = NewStream("aaaaaaaaaaa4");
        var sink = NewSink(first, server.Url);
        Publish(first, 10);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 10, "10 events spooled while NATS is down");
        await sink.DisposeAsync();

        // One flipped byte in the last record's envelope: its checksum no longer matches, so it is not sent garbled.
        var segment = Directory.GetFiles(SpoolDir, "*.seg").Order().Last();
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[^3] ^= 0x20;
        await File.WriteAllBytesAsync(segment, bytes);

        await server.StartAgainAsync();
        var logger = new RecordingLogger<NatsEventSink>();
        await using var next = NewSink(NewStream("bbbbbbbbbbb4"), server.Url, logger);
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("checksum", StringComparison.Ordinal));
        await AllAckedAsync(next, 9);
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaaa4", Enumerable.Range(1, 9).Select(i => (long)i));
    }

    [Fact]
    public async Task RefusedLogin_IsLoggedAndShownWithoutThePassword()
    {
        const string wrong = "wrong-horse-battery-staple";
        var server = await NatsServerProcess.StartAsync("--user", "gateway", "--pass", "correct-horse-battery-staple");
        _owned.Add(server);
        var logger = new RecordingLogger<NatsEventSink>();
        var stream = NewStream("aaaaaaaaaaa6");
        await using var sink = NewSink(stream, server.Url, logger, user: "gateway", password: wrong);
        Publish(stream, 3);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 3 && sink.Status().LastError is not null, "the events spooled and the refusal noted");
        await sink.DisposeAsync();

        Assert.DoesNotContain(wrong, sink.Status().LastError!, StringComparison.Ordinal);
        Assert.All(logger.Entries, e => Assert.DoesNotContain(wrong, e.Message + e.Exception, StringComparison.Ordinal));
        Assert.All(Directory.GetFiles(SpoolDir), f => Assert.DoesNotContain(wrong, File.ReadAllText(f), StringComparison.Ordinal));
    }

    [Fact]
    public async Task ExistingStreamWithOtherLimits_IsUsedUnchanged_AndAMessageItRefusesForGoodIsDroppedAndCounted()
    {
        var server = await StartServerAsync();
        await using (var admin = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = server.Url }))
        {
            var js = new NATS.Client.JetStream.NatsJSContext(admin);
            await js.CreateStreamAsync(new NATS.Client.JetStream.Models.StreamConfig("CDP", ["cdp.>"]) { MaxMsgSize = 400, MaxBytes = 1_000_000 });
        }
        var logger = new RecordingLogger<NatsEventSink>();
        var stream = NewStream("aaaaaaaaaaa7");
        await using var sink = NewSink(stream, server.Url, logger);
        stream.PublishConnect("small-1");
        stream.PublishConnect(new string('x', 600));
        stream.PublishConnect("small-2");
        await Eventually.TrueAsync(() => sink.Published == 2 && sink.Dropped == 1, () => $"2 published and 1 dropped (published {sink.Published}, dropped {sink.Dropped}, last error {sink.Status().LastError})");

        Assert.Equal(1, stream.DroppedEvents);
        Assert.Contains(logger.Entries, e => e.Message.Contains("found with other settings", StringComparison.Ordinal));
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains($"{Instance}:aaaaaaaaaaa7:2", StringComparison.Ordinal));
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaaa7", [1, 3]);
        await using var check = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = server.Url });
        var info = await new NATS.Client.JetStream.NatsJSContext(check).GetStreamAsync("CDP");
        Assert.Equal(400, info.Info.Config.MaxMsgSize);
        Assert.Equal(1_000_000, info.Info.Config.MaxBytes);
    }

    private static readonly NATS.Client.Core.NatsOpts OperatorLogin =
        new() { AuthOpts = new NATS.Client.Core.NatsAuthOpts { Username = "operator", Password = "operator-password-1" } };

    /// <summary>A server where the operator's user may do anything and the gateway's has <paramref name="gatewayPermissions"/>.</summary>
    private async Task<NatsServerProcess> StartServerWithUsersAsync(string gatewayPermissions)
    {
        var server = await NatsServerProcess.StartWithConfigAsync(
            "authorization {\n  users = [\n    { user: operator, password: operator-password-1 }\n" +
            "    { user: gateway, password: secret-password-1, permissions: " + gatewayPermissions + " }\n  ]\n}\n");
        _owned.Add(server);
        return server;
    }

    private static async Task CreateStreamAsOperatorAsync(NatsServerProcess server)
    {
        await using var admin = new NATS.Client.Core.NatsConnection(OperatorLogin with { Url = server.Url });
        var js = new NATS.Client.JetStream.NatsJSContext(admin);
        await js.CreateStreamAsync(new NATS.Client.JetStream.Models.StreamConfig("CDP", ["cdp.>"]) { MaxBytes = 2_000_000, MaxAge = TimeSpan.FromHours(1) });
    }

    /// <summary>The stream is the operator's, with the limits the operator gave it.</summary>
    private static async Task AssertOperatorsStreamUnchangedAsync(NatsServerProcess server)
    {
        await using var check = new NATS.Client.Core.NatsConnection(OperatorLogin with { Url = server.Url });
        var info = await new NATS.Client.JetStream.NatsJSContext(check).GetStreamAsync("CDP");
        Assert.Equal(2_000_000, info.Info.Config.MaxBytes);
        Assert.Equal(TimeSpan.FromHours(1), info.Info.Config.MaxAge);
    }

    [Fact]
    public async Task AUserWhoMayNotCreateStreams_WaitsOnDiskUntilTheOperatorCreatesOne_ThenPublishesIntoItUnchanged()
    {
        // The gateway's user may publish events and look streams up, but not create, change or delete one.
        var server = await StartServerWithUsersAsync("{ publish: { deny: [\"$JS.API.STREAM.CREATE.>\", \"$JS.API.STREAM.UPDATE.>\", " +
            "\"$JS.API.STREAM.DELETE.>\", \"$JS.API.STREAM.PURGE.>\"] } }");
        var logger = new RecordingLogger<NatsEventSink>();
        var stream = NewStream("aaaaaaaaaab4");
        await using var sink = NewSink(stream, server.Url, logger, user: "gateway", password: "secret-password-1");
        Publish(stream, 5);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 5 && sink.Retried >= 1 && logger.Entries.Any(e => e.Message.Contains("not created, used as it is", StringComparison.Ordinal)),
            () => $"5 events wait on disk with no stream to take them (spooled {sink.SpooledEvents}, retried {sink.Retried}, last error {sink.Status().LastError})");
        Assert.Equal(0, sink.Published);

        await CreateStreamAsOperatorAsync(server);
        Publish(stream, 2);
        await AllAckedAsync(sink, 7);

        Assert.Equal(0, sink.Dropped);
        var stored = await JetStreamContents.ReadAllAsync(server.Url, options: OperatorLogin);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaab4", [1, 2, 3, 4, 5, 6, 7]);
        Assert.Equal(7, stored.Count);
        await AssertOperatorsStreamUnchangedAsync(server);
    }

    [Fact]
    public async Task AUserWhoMayOnlyPublishEvents_PublishesIntoTheOperatorsStream()
    {
        // No JetStream API at all: the stream cannot even be looked up, and the publishes' acks are what tells it is there.
        var server = await StartServerWithUsersAsync("{ publish: { allow: [\"cdp.>\"] } }");
        await CreateStreamAsOperatorAsync(server);
        var logger = new RecordingLogger<NatsEventSink>();
        var stream = NewStream("aaaaaaaaaab5");
        await using var sink = NewSink(stream, server.Url, logger, user: "gateway", password: "secret-password-1");
        Publish(stream, 5);
        await AllAckedAsync(sink, 5);

        Assert.Contains(logger.Entries, e => e.Message.Contains("not looked up, used as it is", StringComparison.Ordinal));
        var stored = await JetStreamContents.ReadAllAsync(server.Url, options: OperatorLogin);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaab5", [1, 2, 3, 4, 5]);
        Assert.Equal(5, stored.Count);
        await AssertOperatorsStreamUnchangedAsync(server);
    }

    [Fact]
    public async Task AListOfServersWhoseFirstIsDown_PublishesThroughTheNextOne()
    {
        var down = await StartServerAsync();
        await down.KillAsync();
        var up = await StartServerAsync();
        var stream = NewStream("aaaaaaaaaab6");
        await using var sink = NewSink(stream, down.Url + "," + up.Url);
        Publish(stream, 5);
        await AllAckedAsync(sink, 5);

        var stored = await JetStreamContents.ReadAllAsync(up.Url);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaab6", [1, 2, 3, 4, 5]);
        Assert.Equal(5, stored.Count);
    }

    [Fact]
    public async Task AMissingStreamIsCreatedAsConfigured_ItsPrefixFileStorageByteLimitAndDuplicateWindow()
    {
        var server = await StartServerAsync();
        var stream = NewStream("aaaaaaaaaab7");
        var options = NatsTestSinks.Options(server.Url, SpoolDir) with { SubjectPrefix = "fleet.web", StreamName = "FLEET", StreamMaxBytes = 5_000_000 };
        await using var sink = NatsTestSinks.NewSink(options, stream);
        Publish(stream, 3);
        await AllAckedAsync(sink, 3);

        await using var check = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = server.Url });
        var config = (await new NATS.Client.JetStream.NatsJSContext(check).GetStreamAsync("FLEET")).Info.Config;
        Assert.Equal(["fleet.web.>"], config.Subjects);
        Assert.Equal(NATS.Client.JetStream.Models.StreamConfigStorage.File, config.Storage);
        Assert.Equal(5_000_000, config.MaxBytes);
        Assert.Equal(TimeSpan.FromMinutes(2), config.DuplicateWindow);
        var stored = await JetStreamContents.ReadAllAsync(server.Url, "FLEET");
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaab7", [1, 2, 3]);
        Assert.All(stored, e => Assert.Equal($"fleet.web.{Instance}.connection.cdp_connect", e.Subject));
    }

    [Fact]
    public async Task StoppedRightAfterABurst_EveryEventIsAcknowledgedOrOnDisk_AndTheNextBootSendsTheRest()
    {
        var server = await StartServerAsync();
        var first = NewStream("aaaaaaaaaab8");
        var sink = NewSink(first, server.Url);
        Publish(first, 500);
        await sink.DisposeAsync();

        // Shutdown keeps publishing for its grace and leaves what is left on disk: nothing is lost or sent twice.
        Assert.Equal(500, sink.Published + sink.SpooledEvents);
        Assert.Equal(0, sink.Dropped);
        await using var next = NewSink(NewStream("bbbbbbbbbbb8"), server.Url);
        await AllAckedAsync(next, sink.SpooledEvents);
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaab8", Enumerable.Range(1, 500).Select(i => (long)i));
        Assert.Equal(500, stored.Count);
    }

    [Fact]
    public async Task CopyJetStreamAlreadyHolds_IsAnAck_AndTheNextEventFollows()
    {
        // What a lost ack looks like from the sink's side: JetStream already has the message when it is sent again.
        var server = await StartServerAsync();
        var stream = NewStream("aaaaaaaaaaa8");
        await using (var sink = NewSink(stream, server.Url))
        {
            stream.PublishConnect("first");
            await AllAckedAsync(sink, 1);
        }
        await using (var admin = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = server.Url }))
        {
            var js = new NATS.Client.JetStream.NatsJSContext(admin);
            var body = "{\"seq\":2,\"event\":{\"source\":{\"instance\":\"" + Instance + "\",\"boot\":\"aaaaaaaaaaa8\"}}}";
            var ack = await js.PublishAsync($"cdp.{Instance}.connection.cdp_connect", System.Text.Encoding.UTF8.GetBytes(body),
                opts: new NATS.Client.JetStream.NatsJSPubOpts { MsgId = $"{Instance}:aaaaaaaaaaa8:2" });
            Assert.False(ack.Duplicate);
        }
        var again = NewStream("aaaaaaaaaaa8");
        again.PublishConnect("skipped");
        var logger = new RecordingLogger<NatsEventSink>();
        await using var resent = NewSink(again, server.Url, logger);
        again.PublishConnect("second");
        again.PublishConnect("third");
        await AllAckedAsync(resent, 2);

        Assert.Equal(0, resent.Retried);
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        Assert.Equal([1, 2, 3], stored.Select(e => e.Seq));
        Assert.Equal($"{Instance}:aaaaaaaaaaa8:3", stored[2].MsgId);
    }

    [Fact]
    public async Task StreamThatDoesNotTakeTheSubjects_LeavesThePublishesUnacked_AndTheyAreRetriedUntilItDoes_OnceEachInSeqOrder()
    {
        // The stream exists (so the sink uses it as it is) but captures other subjects: the server answers the sink's
        // publishes with "no responders", never an ack.
        var server = await StartServerAsync();
        await using var admin = new NATS.Client.Core.NatsConnection(new NATS.Client.Core.NatsOpts { Url = server.Url });
        var js = new NATS.Client.JetStream.NatsJSContext(admin);
        await js.CreateStreamAsync(new NATS.Client.JetStream.Models.StreamConfig("CDP", ["other.>"]));
        var stream = NewStream("aaaaaaaaaab1");
        await using var sink = NewSink(stream, server.Url);
        Publish(stream, 50);
        await Eventually.TrueAsync(() => sink.Retried >= 2 && sink.Published == 0,
            () => $"publishes retried without an ack (retried {sink.Retried}, published {sink.Published}, last error {sink.Status().LastError})");
        Assert.Contains("no responders", sink.Status().LastError, StringComparison.Ordinal);

        await js.UpdateStreamAsync(new NATS.Client.JetStream.Models.StreamConfig("CDP", ["other.>", "cdp.>"]));
        Publish(stream, 50);
        await AllAckedAsync(sink, 100);

        Assert.Equal(0, sink.Dropped);
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaab1", Enumerable.Range(1, 100).Select(i => (long)i));
    }

    [Fact]
    public async Task UrlListWhoseFirstServerIsDown_PublishesThroughTheNext_OnceEachInSeqOrder()
    {
        var server = await StartServerAsync();
        int dead;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            dead = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }
        var stream = NewStream("aaaaaaaaaab2");
        await using var sink = NewSink(stream, $"nats://127.0.0.1:{dead}, {server.Url}");
        Publish(stream, 20);
        await AllAckedAsync(sink, 20);

        Assert.Equal(1, sink.Connected);
        var stored = await JetStreamContents.ReadAllAsync(server.Url);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaab2", Enumerable.Range(1, 20).Select(i => (long)i));
    }

    [Fact]
    public async Task PublishTheServerForbids_IsRetriedAndSpooled_WithTheServersWordsInLastError()
    {
        var server = await NatsServerProcess.StartWithConfigAsync(
            "authorization {\n  users = [\n    { user: gateway, password: secret-password-1, permissions: { publish: { deny: [\"cdp.>\"] } } }\n  ]\n}\n");
        _owned.Add(server);
        var stream = NewStream("aaaaaaaaaab3");
        await using var sink = NewSink(stream, server.Url, user: "gateway", password: "secret-password-1");
        Publish(stream, 5);
        await Eventually.TrueAsync(() => sink.Retried >= 1 && sink.Status().LastError?.Contains("Permissions Violation", StringComparison.Ordinal) == true,
            () => $"the refusal shown (retried {sink.Retried}, last error {sink.Status().LastError})");

        Assert.Equal(0, sink.Published);
        Assert.Equal(0, sink.Dropped);
    }

    [Fact]
    public async Task SpoolDirectoryAndSegments_AreTheOwnersAlone()
    {
        var server = await StartServerAsync();
        await server.KillAsync();
        Directory.CreateDirectory(SpoolDir);
        File.SetUnixFileMode(SpoolDir, (UnixFileMode)0b111_111_111);
        var stream = NewStream("aaaaaaaaaaa5");
        await using var sink = NewSink(stream, server.Url);
        Publish(stream, 3);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 3, "3 events spooled while NATS is down");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(SpoolDir));
        var segments = Directory.GetFiles(SpoolDir, "*.seg");
        Assert.NotEmpty(segments);
        Assert.All(segments, s => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(s)));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xUnit 2 disposes a test class only through IDisposable or IAsyncLifetime.
    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }
}
