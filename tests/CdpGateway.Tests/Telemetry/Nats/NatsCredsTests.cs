using System.Text.Json;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Nats;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using NATS.Client.Core;
using NATS.NKeys;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>
/// <c>--nats-creds</c> against a real nats-server, both ways a server takes creds files: with one NKey user (the right
/// seed publishes, another user's seed is refused, and no seed ever shows in the status, the logs or the spool) and in
/// operator mode (a user JWT its account signed publishes; one signed by an account the server does not know is refused).
/// </summary>
public sealed class NatsCredsTests : IAsyncLifetime
{
    private const string Instance = "gw-creds";
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "cdpgw-nats-creds-" + Guid.NewGuid().ToString("N"));
    private readonly List<IAsyncDisposable> _owned = [];

    private string SpoolDir => Path.Combine(_dataDir, "nats-spool");

    private string CredsDir => Path.Combine(_dataDir, "creds");

    private static EventStream NewStream(string boot) => NatsTestSinks.NewStream(Instance, boot);

    private NatsEventSink NewSink(EventStream stream, string url, string credsFile, RecordingLogger<NatsEventSink> logger) =>
        NatsTestSinks.NewSink(NatsTestSinks.Options(url, SpoolDir) with { CredsFile = credsFile }, stream, logger);

    private async Task<NatsServerProcess> StartServerForAsync(KeyPair user)
    {
        var server = await NatsServerProcess.StartWithConfigAsync("authorization {\n  users = [\n    { nkey: \"" + user.GetPublicKey() + "\" }\n  ]\n}\n");
        _owned.Add(server);
        return server;
    }

    private static void Publish(EventStream stream, int count) => NatsTestSinks.Publish(stream, count);

    [Fact]
    public async Task CredsOfTheServersNKeyUser_PublishEveryEventOnceInSeqOrder()
    {
        using var user = KeyPair.CreatePair(PrefixByte.User);
        var server = await StartServerForAsync(user);
        var stream = NewStream("aaaaaaaaaac1");
        await using var sink = NewSink(stream, server.Url, CredsFiles.Write(CredsDir, user), new RecordingLogger<NatsEventSink>());
        Publish(stream, 30);
        await Eventually.TrueAsync(() => sink.Published >= 30 && sink.SpooledEvents == 0 && sink.Pending == 0,
            () => $"30 events acked with the creds (published {sink.Published}, spooled {sink.SpooledEvents}, last error {sink.Status().LastError})");

        // The stream exists only because the client library's connection (given the same creds file) created it.
        Assert.True(sink.Status().StreamBound);
        var stored = await JetStreamContents.ReadAllAsync(server.Url, options: new NatsOpts
        {
            AuthOpts = new NatsAuthOpts { NKey = user.GetPublicKey(), Seed = user.GetSeed() },
        });
        Assert.Equal(30, stored.Count);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaac1", Enumerable.Range(1, 30).Select(i => (long)i));
    }

    [Fact]
    public async Task CredsOfAnotherUser_AreRefused_AndTheSeedNeverShowsInStatusLogsOrSpool()
    {
        using var allowed = KeyPair.CreatePair(PrefixByte.User);
        using var intruder = KeyPair.CreatePair(PrefixByte.User);
        string seed = intruder.GetSeed();
        var server = await StartServerForAsync(allowed);
        var logger = new RecordingLogger<NatsEventSink>();
        var stream = NewStream("aaaaaaaaaac2");
        await using var sink = NewSink(stream, server.Url, CredsFiles.Write(CredsDir, intruder), logger);
        Publish(stream, 5);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 5 && sink.Status().LastError is not null,
            () => $"the events spooled and the refusal noted (spooled {sink.SpooledEvents}, last error {sink.Status().LastError})");
        await sink.DisposeAsync();

        var status = sink.Status();
        Assert.Equal(0, sink.Published);
        Assert.Contains("Authorization Violation", status.LastError, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(seed, JsonSerializer.Serialize(status), StringComparison.Ordinal);
        Assert.All(logger.Entries, e => Assert.DoesNotContain(seed, e.Message + e.Exception, StringComparison.Ordinal));
        Assert.All(Directory.GetFiles(SpoolDir), f => Assert.DoesNotContain(seed, File.ReadAllText(f), StringComparison.Ordinal));
    }

    [Fact]
    public async Task CredsOfAUserTheOperatorsAccountSigned_PublishEveryEventOnceInSeqOrder()
    {
        // Decentralised auth, as most servers with creds files run it: the server trusts an operator, not a user list.
        using var jwts = new NatsOperatorJwts();
        using var user = KeyPair.CreatePair(PrefixByte.User);
        var server = await NatsServerProcess.StartWithConfigAsync(jwts.ServerConfig());
        _owned.Add(server);
        string creds = jwts.WriteCreds(CredsDir, user);
        var stream = NewStream("aaaaaaaaaac3");
        await using var sink = NewSink(stream, server.Url, creds, new RecordingLogger<NatsEventSink>());
        Publish(stream, 30);
        await Eventually.TrueAsync(() => sink.Published >= 30 && sink.SpooledEvents == 0 && sink.Pending == 0,
            () => $"30 events acked with the operator-signed creds (published {sink.Published}, spooled {sink.SpooledEvents}, last error {sink.Status().LastError})");

        Assert.True(sink.Status().StreamBound);
        var stored = await JetStreamContents.ReadAllAsync(server.Url, options: new NatsOpts { AuthOpts = new NatsAuthOpts { CredsFile = creds } });
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaac3", Enumerable.Range(1, 30).Select(i => (long)i));
    }

    [Fact]
    public async Task CredsSignedByAnAccountTheServerDoesNotKnow_AreRefused()
    {
        using var trusted = new NatsOperatorJwts();
        using var stranger = new NatsOperatorJwts();
        using var user = KeyPair.CreatePair(PrefixByte.User);
        var server = await NatsServerProcess.StartWithConfigAsync(trusted.ServerConfig());
        _owned.Add(server);
        var stream = NewStream("aaaaaaaaaac4");
        await using var sink = NewSink(stream, server.Url, stranger.WriteCreds(CredsDir, user), new RecordingLogger<NatsEventSink>());
        Publish(stream, 5);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 5 && sink.Status().LastError is not null,
            () => $"the events spooled and the refusal noted (spooled {sink.SpooledEvents}, last error {sink.Status().LastError})");
        Assert.Equal(0, sink.Published);
        Assert.Contains("Authorization Violation", sink.Status().LastError, StringComparison.OrdinalIgnoreCase);
    }

    public Task InitializeAsync() => Task.CompletedTask;

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
