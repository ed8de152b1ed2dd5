using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Nats;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using NATS.Client.Core;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>
/// The NATS sink over TLS against a real nats-server serving a certificate from a throw-away authority: trusted only
/// through <c>--nats-ca</c>, refused with another authority or with none (the system store never trusts it).
/// </summary>
public sealed class NatsTlsTests : IAsyncLifetime
{
    private const string Instance = "gw-tls";
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "cdpgw-nats-tls-" + Guid.NewGuid().ToString("N"));
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<IDisposable> _authorities = [];

    private string SpoolDir => Path.Combine(_dataDir, "nats-spool");

    private static EventStream NewStream(string boot) => NatsTestSinks.NewStream(Instance, boot);

    private NatsEventSink NewSink(EventStream stream, string url, string? caFile, RecordingLogger<NatsEventSink>? logger = null) =>
        NatsTestSinks.NewSink(NatsTestSinks.Options(url, SpoolDir) with { CaFile = caFile }, stream, logger);

    private TestCertificateAuthority NewAuthority(string name, bool serverNamesLoopbackAddress = true)
    {
        var authority = TestCertificateAuthority.Create(name, serverNamesLoopbackAddress);
        _authorities.Add(authority);
        return authority;
    }

    private async Task<NatsServerProcess> StartTlsServerAsync(TestCertificateAuthority authority)
    {
        var server = await NatsServerProcess.StartAsync(authority.ServerTlsArgs);
        _owned.Add(server);
        return server;
    }

    private static void Publish(EventStream stream, int count) => NatsTestSinks.Publish(stream, count);

    [Fact]
    public async Task TlsServerSignedByTheGivenCa_ReceivesEveryEventOnceInSeqOrder()
    {
        var authority = NewAuthority("cdpgw test ca");
        var server = await StartTlsServerAsync(authority);
        var url = $"tls://127.0.0.1:{server.Port}";
        var stream = NewStream("aaaaaaaaaat1");
        await using var sink = NewSink(stream, url, authority.CaFile);
        Publish(stream, 50);
        await Eventually.TrueAsync(() => sink.Published >= 50 && sink.SpooledEvents == 0 && sink.Pending == 0,
            () => $"50 events acked over TLS (published {sink.Published}, spooled {sink.SpooledEvents}, last error {sink.Status().LastError})");

        Assert.True(sink.Status().StreamBound);
        var stored = await JetStreamContents.ReadAllAsync(url, options: new NatsOpts
        {
            TlsOpts = new NatsTlsOpts { CaFile = authority.CaFile, Mode = TlsMode.Require },
        });
        Assert.Equal(50, stored.Count);
        JetStreamContents.AssertExactly(stored, Instance, "aaaaaaaaaat1", Enumerable.Range(1, 50).Select(i => (long)i));
    }

    [Fact]
    public async Task TlsServerSignedByAnotherCa_IsRefused_TheEventsWaitInTheSpoolWithTheCertificateFailureShown()
    {
        var serverAuthority = NewAuthority("cdpgw server ca");
        var otherAuthority = NewAuthority("cdpgw unrelated ca");
        var server = await StartTlsServerAsync(serverAuthority);
        var stream = NewStream("aaaaaaaaaat2");
        await using var sink = NewSink(stream, $"tls://127.0.0.1:{server.Port}", otherAuthority.CaFile);
        await AssertRefusedAsync(sink, stream, "the server's certificate is not signed by the --nats-ca authority");
    }

    [Fact]
    public async Task TlsWithoutCaAgainstAThrowAwayCa_IsRefused_TheSystemStoreDoesNotTrustIt()
    {
        var authority = NewAuthority("cdpgw untrusted ca");
        var server = await StartTlsServerAsync(authority);
        var stream = NewStream("aaaaaaaaaat3");
        await using var sink = NewSink(stream, $"tls://127.0.0.1:{server.Port}", caFile: null);
        await AssertRefusedAsync(sink, stream, "the server's certificate is not trusted by the system");
    }

    [Fact]
    public async Task TlsServerWhoseCertificateNamesAnotherHost_IsRefusedEvenWithItsCa()
    {
        var authority = NewAuthority("cdpgw localhost-only ca", serverNamesLoopbackAddress: false);
        var server = await StartTlsServerAsync(authority);
        var stream = NewStream("aaaaaaaaaat4");
        await using var sink = NewSink(stream, $"tls://127.0.0.1:{server.Port}", authority.CaFile);
        await AssertRefusedAsync(sink, stream, "the server's certificate is not for 127.0.0.1");
    }

    private static async Task AssertRefusedAsync(NatsEventSink sink, EventStream stream, string why)
    {
        Publish(stream, 5);
        await Eventually.TrueAsync(() => sink.SpooledEvents == 5 && sink.Status().LastError is not null,
            () => $"the events spooled and the refusal noted (spooled {sink.SpooledEvents}, last error {sink.Status().LastError})");
        var status = sink.Status();
        Assert.Equal(0, sink.Published);
        Assert.False(status.Connected);
        Assert.StartsWith("TLS to 127.0.0.1:", status.LastError, StringComparison.Ordinal);
        Assert.Contains(why, status.LastError, StringComparison.Ordinal);
        await sink.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
        foreach (var authority in _authorities)
        {
            authority.Dispose();
        }
        if (Directory.Exists(_dataDir))
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }
}
