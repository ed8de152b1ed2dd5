using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Hosting;
using CdpGateway.Telemetry;
using FakeChromium;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Support;

/// <summary>
/// A real gateway on 127.0.0.1 (ephemeral ports) in front of an in-process fake Chromium, with a fake
/// clock for the confirm wait and dial window. Disposing it checks the connection invariant: exactly
/// one cdp_connect and one cdp_disconnect per accepted connection.
/// </summary>
public sealed class TestGateway : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly List<FakeDevToolsServer> _browsers = [];
    private bool _invariantChecked;
    private bool _stopped;

    private TestGateway(GatewayApp app, FakeTimeProvider clock, GatewayOptions options)
    {
        App = app;
        Clock = clock;
        Options = options;
    }

    public GatewayApp App { get; }
    public FakeTimeProvider Clock { get; }
    public GatewayOptions Options { get; }
    public FakeDevToolsServer Browser => _browsers[^1];

    public static async Task<TestGateway> StartAsync(Action<GatewayOptions>? configure = null, bool withBrowser = true,
        Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? services = null)
    {
        var options = new GatewayOptions
        {
            CdpPort = 0,
            ApiPort = 0,
            DataDir = Path.Combine(Path.GetTempPath(), "cdpgw-test-" + Guid.NewGuid().ToString("N")),
            LogLevel = "warning",
        };
        configure?.Invoke(options);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // CDPGW_TEST_LOG=1 shows the gateway's own log while debugging a test.
        var verbose = Environment.GetEnvironmentVariable("CDPGW_TEST_LOG") == "1";
        var app = GatewayApp.Create(options, clock, superviseBrowser: false, logging: verbose ? null : _ => { }, services: services);
        await app.StartAsync();
        var gateway = new TestGateway(app, clock, options);
        if (withBrowser)
        {
            await gateway.StartBrowserAsync();
        }
        return gateway;
    }

    /// <summary>Starts a new fake Chromium and announces it, as a restart would.</summary>
    public async Task<FakeDevToolsServer> StartBrowserAsync(bool announce = true)
    {
        var browser = await FakeDevToolsServer.StartAsync();
        _browsers.Add(browser);
        if (announce)
        {
            App.Tracker.Set(browser.BrowserUrl);
        }
        return browser;
    }

    public Uri CdpUri(string path = "/devtools/browser/any") => new($"ws://127.0.0.1:{App.CdpPort}{path}");

    public Uri CdpHttp(string path) => new($"http://127.0.0.1:{App.CdpPort}{path}");

    public Uri ApiHttp(string path) => new($"http://127.0.0.1:{App.ApiPort}{path}");

    public async Task<ClientWebSocket> ConnectAsync(string path = "/devtools/browser/any", Action<ClientWebSocketOptions>? configure = null)
    {
        var client = new ClientWebSocket();
        client.Options.KeepAliveInterval = TimeSpan.Zero;
        configure?.Invoke(client.Options);
        using var timeout = new CancellationTokenSource(Patience);
        await client.ConnectAsync(CdpUri(path), timeout.Token);
        return client;
    }

    /// <summary>All envelopes published so far, parsed.</summary>
    public IReadOnlyList<JsonElement> AllEvents()
    {
        var list = new List<JsonElement>();
        foreach (var envelope in App.Events.Snapshot(0, 8192, null))
        {
            list.Add(JsonDocument.Parse(envelope.Utf8Json).RootElement.Clone());
        }
        return list;
    }

    public IReadOnlyList<JsonElement> EventsOfType(string type) =>
        AllEvents().Where(e => e.GetProperty("event").GetProperty("type").GetString() == type).ToList();

    /// <summary>Waits (awaiting the stream, not polling on a timer) for the n-th event of a type and returns its data.</summary>
    public async Task<JsonElement> WaitForEventAsync(string type, int count = 1, TimeSpan? patience = null)
    {
        using var timeout = new CancellationTokenSource(patience ?? Patience);
        var reader = App.Events.CreateReader(0);
        var seen = 0;
        while (true)
        {
            var batch = await reader.ReadAsync(cancellationToken: timeout.Token);
            foreach (var envelope in batch.Events)
            {
                if (envelope.Type != type)
                {
                    continue;
                }
                if (++seen == count)
                {
                    return JsonDocument.Parse(envelope.Utf8Json).RootElement.GetProperty("event").GetProperty("data").Clone();
                }
            }
        }
    }

    /// <summary>
    /// Moves the fake clock forward in steps until <paramref name="done"/> completes: the timer under test
    /// may be created a moment after the test decides to advance.
    /// </summary>
    public async Task<T> AdvanceUntilAsync<T>(Task<T> done, TimeSpan step)
    {
        await Eventually.TrueAsync(async () =>
        {
            if (done.IsCompleted)
            {
                return true;
            }
            Clock.Advance(step);
            await Task.WhenAny(done, Task.Delay(20));
            return done.IsCompleted;
        }, "the awaited task completing as the clock moves on", Patience);
        return await done;
    }

    public T Services<T>() where T : notnull => (T)App.Services.GetService(typeof(T))!;

    /// <summary>For a test that switches the connection category off on purpose.</summary>
    public void SkipConnectionInvariant() => _invariantChecked = true;

    /// <summary>Every accepted connection got exactly one cdp_connect and one cdp_disconnect.</summary>
    public void AssertConnectionInvariant()
    {
        _invariantChecked = true;
        var connects = EventsOfType(ConnectionEventTypes.Connect).Select(ConnectionIdOf).ToList();
        var disconnects = EventsOfType(ConnectionEventTypes.Disconnect).Select(ConnectionIdOf).ToList();
        Assert.Equal(connects.Count, connects.Distinct().Count());
        Assert.Equal(disconnects.Count, disconnects.Distinct().Count());
        Assert.Equal(connects.Order(), disconnects.Order());
    }

    private static string ConnectionIdOf(JsonElement envelope) =>
        envelope.GetProperty("event").GetProperty("data").GetProperty("connection_id").GetString()!;

    /// <summary>
    /// Stops the gateway as a shutdown would, and leaves its data dir for the next gateway started on it (a restart); that
    /// one's disposal removes the dir.
    /// </summary>
    public async ValueTask StopKeepingDataDirAsync()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        await App.StopAsync();
        if (!_invariantChecked)
        {
            AssertConnectionInvariant();
        }
        await App.DisposeAsync();
        foreach (var browser in _browsers)
        {
            await browser.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopKeepingDataDirAsync();
        try
        {
            Directory.Delete(Options.DataDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

/// <summary>Small WebSocket conveniences for tests.</summary>
public static class WebSocketTestExtensions
{
    public static Task SendTextAsync(this WebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>Receives one whole message (or the close), within the test patience.</summary>
    public static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveMessageAsync(this WebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TestGateway.Patience);
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(chunk, timeout.Token);
            buffer.Write(chunk, 0, result.Count);
            if (result.MessageType == WebSocketMessageType.Close || result.EndOfMessage)
            {
                return (result.MessageType, buffer.ToArray());
            }
        }
    }

    public static async Task<string> EchoAsync(this WebSocket socket, string text)
    {
        await socket.SendTextAsync(text);
        var (_, data) = await socket.ReceiveMessageAsync();
        return Encoding.UTF8.GetString(data);
    }

    /// <summary>Reads until the server's close frame arrives; returns its status.</summary>
    public static async Task<WebSocketCloseStatus?> WaitForCloseAsync(this WebSocket socket)
    {
        while (true)
        {
            (WebSocketMessageType type, _) = await socket.ReceiveMessageAsync();
            if (type == WebSocketMessageType.Close)
            {
                return socket.CloseStatus;
            }
        }
    }
}
