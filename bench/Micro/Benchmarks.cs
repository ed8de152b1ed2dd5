using System.Net.WebSockets;
using BenchmarkDotNet.Attributes;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bench.Micro;

/// <summary>
/// The frame relay (<see cref="WebSocketFrameRelay.CopyAsync"/>) between two in-memory stream pairs,
/// with runtime WebSockets at the ends: client --pair1--> [relay] --pair2--> reader. The client's
/// masked frames reach the reader unchanged, so the reader is a server-side WebSocket. <c>Direct</c> is the same send and receive over one pair
/// without the pump, so Relay minus Direct is what the pump costs per message, CPU and bytes.
/// The steady-state target is 0 B allocated per relayed message beyond Direct's.
/// </summary>
[MemoryDiagnoser]
public class RelayBenchmarks
{
    private WebSocket _client = null!, _reader = null!;
    private WebSocketLeg _pumpIn = null!, _pumpOut = null!;
    private WebSocket _directA = null!, _directB = null!;
    private WebSocket _tapClient = null!, _tapReader = null!;
    private WebSocketLeg _tapIn = null!, _tapOut = null!;
    private Task<RelayOutcome> _pump = null!, _tapPump = null!;
    private byte[] _control = null!;
    private byte[] _payload = null!;
    private byte[] _receive = null!;

    [Params(100, 1024, 65536)]
    public int Bytes { get; set; }

    private static WebSocket Ws(Stream s, bool server) => WebSocket.CreateFromStream(s, new WebSocketCreationOptions
    {
        IsServer = server,
        KeepAliveInterval = TimeSpan.Zero,
    });

    [GlobalSetup]
    public void Setup()
    {
        var (c, s) = InMemoryDuplex.CreatePair();
        _client = Ws(c, server: false);
        _pumpIn = new WebSocketLeg(s, peerMasks: true);
        var (u1, u2) = InMemoryDuplex.CreatePair();
        _pumpOut = new WebSocketLeg(u1, peerMasks: false);
        _reader = Ws(u2, server: true);
        var (d1, d2) = InMemoryDuplex.CreatePair();
        _directA = Ws(d1, server: false);
        _directB = Ws(d2, server: true);
        _payload = new byte[Bytes];
        new Random(1).NextBytes(_payload);
        _receive = new byte[Math.Max(Bytes, 16) * 2];
        _pump = WebSocketFrameRelay.CopyAsync(_pumpIn, _pumpOut, new RelayCounters(), new WebSocketFrameRelay.Options(100 << 20, TimeProvider.System));

        // The same pump with the control-command tap that the gateway puts on the client-to-browser direction.
        var (tc, ts) = InMemoryDuplex.CreatePair();
        _tapClient = Ws(tc, server: false);
        _tapIn = new WebSocketLeg(ts, peerMasks: true);
        var (to1, to2) = InMemoryDuplex.CreatePair();
        _tapOut = new WebSocketLeg(to1, peerMasks: false);
        _tapReader = Ws(to2, server: true);
        var config = new TelemetryConfig();
        var stream = new EventStream(TimeProvider.System, config);
        var recorder = new CdpCommandRecorder("bench", config, stream, TimeProvider.System, NullLogger.Instance);
        _tapPump = WebSocketFrameRelay.CopyAsync(_tapIn, _tapOut, new RelayCounters(), new WebSocketFrameRelay.Options(100 << 20, TimeProvider.System, null, recorder));
        _control = System.Text.Encoding.UTF8.GetBytes("{\"id\":1,\"method\":\"Input.dispatchMouseEvent\",\"params\":{\"type\":\"mouseMoved\",\"x\":100,\"y\":200,\"button\":\"none\"}}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Abort();
        _pumpIn.Abort();
        _pumpOut.Abort();
        _reader.Abort();
        _pump.Wait(TimeSpan.FromSeconds(5));
        _tapClient.Abort();
        _tapIn.Abort();
        _tapOut.Abort();
        _tapReader.Abort();
    }

    [Benchmark(Baseline = true, Description = "send+receive, no pump")]
    public Task Direct() => OneAsync(_directA, _directB);

    [Benchmark(Description = "send+receive through WebSocketFrameRelay.CopyAsync")]
    public Task Relay() => OneAsync(_client, _reader);

    /// <summary>A control command (Input.dispatchMouseEvent) through the relay with the command tap, control telemetry on.</summary>
    [Benchmark(Description = "control command through CopyAsync + CdpCommandRecorder")]
    public Task RelayTapped() => OneAsync(_tapClient, _tapReader, _control, WebSocketMessageType.Text);

    private Task OneAsync(WebSocket from, WebSocket to) => OneAsync(from, to, _payload, WebSocketMessageType.Binary);

    private async Task OneAsync(WebSocket from, WebSocket to, byte[] payload, WebSocketMessageType type)
    {
        await from.SendAsync(payload, type, true, CancellationToken.None).ConfigureAwait(false);
        int total = 0;
        while (true)
        {
            var r = await to.ReceiveAsync(_receive.AsMemory(total), CancellationToken.None).ConfigureAwait(false);
            total += r.Count;
            if (r.EndOfMessage)
            {
                break;
            }
        }
        if (total != payload.Length)
        {
            throw new InvalidOperationException($"received {total} of {payload.Length}");
        }
    }
}

/// <summary>The telemetry pipeline: numbering, serializing and storing one event in the ring.</summary>
[MemoryDiagnoser]
public class EventStreamBenchmarks
{
    private EventStream _stream = null!;
    private readonly CdpConnectData _connect = new("0123456789abcdef", "browser");
    private readonly CdpDisconnectData _disconnect = new()
    {
        ConnectionId = "0123456789abcdef",
        Reason = DisconnectReason.ClientClose,
        DurationMs = 1234.567,
        MessagesFromClient = 1000,
        MessagesFromUpstream = 1200,
        BytesFromClient = 123456,
        BytesFromUpstream = 654321,
        CloseCode = 1000,
    };

    [GlobalSetup]
    public void Setup()
    {
        var config = new TelemetryConfig();
        config.SetEnabled(EventCategory.Control, false);
        _stream = new EventStream(TimeProvider.System, config);
    }

    [Benchmark(Description = "Publish cdp_connect")]
    public long PublishConnect() =>
        _stream.Publish(ConnectionEventTypes.Connect, EventCategory.Connection, _connect, TelemetryJsonContext.Default.CdpConnectData);

    [Benchmark(Description = "Publish cdp_disconnect")]
    public long PublishDisconnect() =>
        _stream.Publish(ConnectionEventTypes.Disconnect, EventCategory.Connection, _disconnect, TelemetryJsonContext.Default.CdpDisconnectData);

    [Benchmark(Description = "Publish to a category switched off")]
    public long PublishDisabled() =>
        _stream.Publish(ConnectionEventTypes.Connect, EventCategory.Control, _connect, TelemetryJsonContext.Default.CdpConnectData);
}
