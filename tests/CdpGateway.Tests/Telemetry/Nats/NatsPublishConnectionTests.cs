using System.Text;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Nats;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using NATS.Client.Core;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>
/// The sink's own publishing connection against a hostile or broken server (<see cref="HostileNatsServer"/>): whatever
/// it sends, the connection refuses or closes with a reason that says what was wrong, never buffers what a server
/// merely announces, and lets no exception escape its reader.
/// </summary>
public sealed class NatsPublishConnectionTests
{
    // A buffer for an announced size (2 GB) is what must never happen. The count is the whole process's, other tests
    // included, hence a ceiling far above what one test allocates and still well below the announced size.
    private const long AllocationCeiling = 1L << 30;

    private static NatsSinkOptions Options(string url) => new()
    {
        Url = url,
        SpoolDirectory = Path.Combine(Path.GetTempPath(), "cdpgw-unused-spool"),
    };

    /// <summary>Opens a connection and waits until it closes; the connection is disposed within a few seconds.</summary>
    private static async Task<string> ClosedReasonAsync(HostileNatsServer server)
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var connection = await NatsPublishConnection.OpenAsync(Options(server.Url), "cdp-gateway test", 0, acked =>
        {
            if (acked == long.MaxValue)
            {
                closed.TrySetResult();
            }
        }, timeout.Token);
        try
        {
            await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(connection.IsOpen);
            return connection.ClosedReason!;
        }
        finally
        {
            await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        }
    }

    private static async Task<NatsException> RefusalAsync(HostileNatsServer server)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        return await Assert.ThrowsAsync<NatsException>(async () =>
        {
            var connection = await NatsPublishConnection.OpenAsync(Options(server.Url), "cdp-gateway test", 0, _ => { }, timeout.Token);
            await connection.DisposeAsync();
        });
    }

    [Theory]
    [InlineData(2_000_000_000)]
    [InlineData(1_048_577)]
    public async Task MessageAnnouncedLargerThanTheLimit_ClosesTheConnectionNamingTheLimit_WithoutBufferingIt(int size)
    {
        await using var server = new HostileNatsServer(HostileNatsServer.PlainInfo, $"MSG _INBOX.x.1 1 {size}\r\n");
        long before = GC.GetTotalAllocatedBytes();
        var reason = await ClosedReasonAsync(server);

        Assert.Contains("larger than 1048576 bytes", reason, StringComparison.Ordinal);
        Assert.True(GC.GetTotalAllocatedBytes() - before < AllocationCeiling, "a buffer grew towards the announced size");
        await Eventually.TrueAsync(() => server.HungUp == 1, "the gateway hung up");
    }

    [Fact]
    public async Task MessageAnnouncedAtIntMaxValue_ClosesTheConnectionNamingTheLimit_WithoutBufferingIt()
    {
        await using var server = new HostileNatsServer(HostileNatsServer.PlainInfo, "MSG _INBOX.x.1 1 2147483647\r\n");
        long before = GC.GetTotalAllocatedBytes();
        var reason = await ClosedReasonAsync(server);

        Assert.Contains("larger than 1048576 bytes", reason, StringComparison.Ordinal);
        Assert.True(GC.GetTotalAllocatedBytes() - before < AllocationCeiling, "a buffer grew towards the announced size");
    }

    [Fact]
    public async Task LineOf100KbWithoutCrLf_ClosesTheConnection_NamingTheLineLimit()
    {
        await using var server = new HostileNatsServer(HostileNatsServer.PlainInfo, new string('A', 100 * 1024));
        var reason = await ClosedReasonAsync(server);

        Assert.Contains("line longer than 65536 bytes", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InfoLineOf100KbWithoutCrLf_IsRefused_NamingTheLineLimit()
    {
        await using var server = new HostileNatsServer("INFO {\"x\":\"" + new string('A', 100 * 1024));
        var refused = await RefusalAsync(server);

        Assert.Contains("INFO line longer than 65536 bytes", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AuthorizationViolationRightAfterConnect_IsRefusedWithTheServersWords()
    {
        await using var server = new HostileNatsServer(HostileNatsServer.PlainInfo, answer: "-ERR 'Authorization Violation'\r\n");
        var refused = await RefusalAsync(server);

        Assert.Equal("NATS refused the connection: Authorization Violation", refused.Message);
        await Eventually.TrueAsync(() => server.HungUp == 1, "the gateway hung up");
    }

    [Fact]
    public async Task InfoThatIsNotJson_IsRefusedSayingSo()
    {
        await using var server = new HostileNatsServer("INFO server_id=hostile max_payload=1048576\r\n");
        var refused = await RefusalAsync(server);

        Assert.Equal("The server's INFO is not JSON the gateway can read", refused.Message);
    }

    [Fact]
    public async Task InfoWithAMaxPayloadBeyondInt64_IsRefusedSayingTheInfoIsBad()
    {
        await using var server = new HostileNatsServer("INFO {\"max_payload\":123456789012345678901234567890}\r\n");
        var refused = await RefusalAsync(server);

        Assert.Contains("INFO", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GreetingThatIsNotInfo_IsRefusedAsNotANatsServer()
    {
        await using var server = new HostileNatsServer("HTTP/1.1 400 Bad Request\r\n");
        var refused = await RefusalAsync(server);

        Assert.Contains("did not greet as a NATS server", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TlsUrlAgainstAServerOfferingNoTls_NeverSendsTheCredentialsInTheClear()
    {
        const string token = "never-in-the-clear-token";
        await using var server = new HostileNatsServer(HostileNatsServer.PlainInfo);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var options = Options($"tls://127.0.0.1:{server.Port}") with { Token = token };
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            var connection = await NatsPublishConnection.OpenAsync(options, "cdp-gateway test", 0, _ => { }, timeout.Token);
            await connection.DisposeAsync();
        });

        await Eventually.TrueAsync(() => server.HungUp == 1, "the gateway hung up");
        var sent = Assert.Single(server.Handshakes);
        Assert.NotEmpty(sent);
        Assert.Empty(server.Connects);
        Assert.Equal(0x16, sent[0]); // a TLS handshake record: the client went on with TLS, not with CONNECT
        Assert.Equal(-1, sent.AsSpan().IndexOf(Encoding.ASCII.GetBytes(token)));
    }

    [Theory]
    [InlineData("FOO bar\r\n", "an unknown message from the server")]
    [InlineData("MSG\r\n", "an unknown message from the server")]
    [InlineData("MSG _INBOX.x.1 1 -5\r\n", "a malformed message from the server")]
    [InlineData("MSG _INBOX.x.1 1 99999999999\r\n", "a malformed message from the server")]
    [InlineData("MSG a b c d e f g h\r\n", "a malformed message from the server")]
    [InlineData("HMSG _INBOX.x.1 1 10 5\r\n", "a malformed message from the server")]
    [InlineData("\u0001\u0002\u00ff\u00fe\r\n", "an unknown message from the server")]
    [InlineData("-ERR 'Unknown Protocol Operation'\r\n", "Unknown Protocol Operation")]
    public async Task GarbageAfterTheHandshake_ClosesTheConnectionWithAReason_AndNothingEscapes(string garbage, string reason)
    {
        await using var server = new HostileNatsServer(HostileNatsServer.PlainInfo, Encoding.Latin1.GetBytes(garbage));
        Assert.Equal(reason, await ClosedReasonAsync(server));
    }

    private static int OwnConnects(HostileNatsServer server) =>
        server.Connects.Count(c => c.Contains("\"lang\":\"cdp-gateway\"", StringComparison.Ordinal));

    /// <summary>A sink pointed at <paramref name="server"/> with five events published; the caller disposes it.</summary>
    private static async Task<T> WithSinkAsync<T>(HostileNatsServer server, Func<NatsEventSink, Task<T>> test)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "cdpgw-nats-hostile-" + Guid.NewGuid().ToString("N"));
        try
        {
            var stream = NatsTestSinks.NewStream("gw-hostile", "aaaaaaaaaah1");
            var sink = NatsTestSinks.NewSink(NatsTestSinks.Options(server.Url, Path.Combine(dataDir, "nats-spool")), stream);
            try
            {
                NatsTestSinks.Publish(stream, 5);
                return await test(sink);
            }
            finally
            {
                await sink.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task HostileServerBehindTheSink_TheEventsSpool_TheErrorIsShown_AndDisposeReturnsPromptly()
    {
        // No allocation count here: the client library's connection (one per look-up of the stream) allocates far more than
        // the publishing connection; the tests above count that one alone.
        await using var server = new HostileNatsServer(HostileNatsServer.PlainInfo, "MSG _INBOX.x.1 1 2000000000\r\n");
        await WithSinkAsync(server, async sink =>
        {
            await Eventually.TrueAsync(() => sink.SpooledEvents == 5 && sink.Status().LastError is not null && OwnConnects(server) >= 3,
                () => $"the events spooled, the failure noted, the publishing connection tried again (spooled {sink.SpooledEvents}, "
                    + $"last error {sink.Status().LastError}, publishing connections {OwnConnects(server)})");
            Assert.Equal(0, sink.Published);
            Assert.False(sink.Status().StreamBound);
            // What went wrong, in words: not a cancelled task's.
            Assert.DoesNotContain("canceled", sink.Status().LastError, StringComparison.OrdinalIgnoreCase);
            return true;
        });
    }

    [Fact]
    public async Task HostileServerBehindTheSink_IsNotFloodedWithReconnects()
    {
        await using var server = new HostileNatsServer(HostileNatsServer.PlainInfo, "MSG _INBOX.x.1 1 2000000000\r\n");
        await WithSinkAsync(server, async sink =>
        {
            await Eventually.TrueAsync(() => OwnConnects(server) >= 5, () => $"the publishing connection tried 5 times ({OwnConnects(server)})");

            // Both connections pause up to ReconnectWaitMax between attempts: the library's may not outrun the sink's.
            int total = server.Connections;
            Assert.True(total <= 5 * OwnConnects(server) + 10, $"{total} connections while the publishing connection made {OwnConnects(server)}");
            return true;
        });
    }
}
