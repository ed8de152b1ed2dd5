using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CdpGateway.Tests.Telemetry.Commands;

/// <summary>
/// cdp_command through the real proxy: reported after the forward, never in the way of forwarding,
/// whatever the publisher does.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class CommandForwardingTests
{
    private const string Click = """{"id":%ID%,"method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":10,"y":20,"button":"left","clickCount":1}}""";

    private static string Frame(int i) => i % 4 == 0
        ? Click.Replace("%ID%", i.ToString())
        : "{\"id\":" + i + ",\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":\"" + i + "\"}}";

    /// <summary>Lets everything through to the stream except cdp_command, which it blocks or throws on.</summary>
    private sealed class HostilePublisher(bool block) : IEventPublisher
    {
        public readonly ManualResetEventSlim Unblock = new();
        public EventStream? Inner;
        public int CommandCalls;

        public long Publish<T>(string type, string category, T data, JsonTypeInfo<T> dataType, DateTimeOffset? timestamp = null)
        {
            if (type != CdpCommandEvents.Type)
            {
                return Inner!.Publish(type, category, data, dataType, timestamp);
            }
            Interlocked.Increment(ref CommandCalls);
            if (block)
            {
                Unblock.Wait(); // wedged until the test is over
                return 0;
            }
            throw new InvalidOperationException("publisher failure");
        }
    }

    private static Action<IServiceCollection> Use(HostilePublisher publisher) => services =>
        services.AddSingleton<IEventPublisher>(sp =>
        {
            publisher.Inner = sp.GetRequiredService<EventStream>();
            return publisher;
        });

    private static Task RoundTripAsync(WebSocket client, int count) => RoundTripAsync(client, count, Frame);

    /// <summary>Sends message 0..count-1 while reading the echoes, each of which must come back unchanged and in order.</summary>
    private static async Task RoundTripAsync(WebSocket client, int count, Func<int, string> message)
    {
        var sender = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await client.SendTextAsync(message(i));
            }
        });
        for (var i = 0; i < count; i++)
        {
            var (_, data) = await client.ReceiveMessageAsync();
            Assert.Equal(message(i), Encoding.UTF8.GetString(data));
        }
        await sender;
    }

    /// <summary>Holds every cdp_command until released, then passes it on to the stream.</summary>
    private sealed class GatedPublisher : IEventPublisher
    {
        public readonly ManualResetEventSlim Open = new();
        public EventStream? Inner;

        public long Publish<T>(string type, string category, T data, JsonTypeInfo<T> dataType, DateTimeOffset? timestamp = null)
        {
            if (type == CdpCommandEvents.Type)
            {
                Open.Wait();
            }
            return Inner!.Publish(type, category, data, dataType, timestamp);
        }
    }

    [Fact]
    public async Task AFloodOfLibraryTrafficNeverCrowdsOutCommands()
    {
        // While the publisher holds the commands back, 600 library messages of 20 KB (12 MB: past both the
        // 256-frame and the 8 MiB bound) go through among 20 commands; had library traffic entered the queue,
        // commands would have been dropped.
        var publisher = new GatedPublisher();
        await using var gw = await TestGateway.StartAsync(services: services =>
            services.AddSingleton<IEventPublisher>(sp =>
            {
                publisher.Inner = sp.GetRequiredService<EventStream>();
                return publisher;
            }));
        using var client = await gw.ConnectAsync();
        var padding = new string('x', 20_000);
        string Message(int i) => i % 31 == 0
            ? Click.Replace("%ID%", i.ToString())
            : "{\"id\":" + i + ",\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":\"" + padding + "\"}}";
        const int count = 620;

        await RoundTripAsync(client, count, Message);
        publisher.Open.Set();
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        var disconnect = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);

        var commands = gw.EventsOfType(CdpCommandEvents.Type).Select(e => e.GetProperty("event").GetProperty("data").GetProperty("command_id").GetInt64());
        Assert.Equal(Enumerable.Range(0, count).Where(i => i % 31 == 0).Select(i => (long)i), commands);
        Assert.Equal(0, disconnect.GetProperty("telemetry_dropped").GetInt64());
    }

    [Fact]
    public async Task CommandsAreReportedInOrderAfterTheirForward_AndLibraryTrafficIsNot()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();

        await RoundTripAsync(client, 12);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        var disconnect = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);

        var commands = gw.EventsOfType(CdpCommandEvents.Type).Select(e => e.GetProperty("event").GetProperty("data")).ToList();
        Assert.Equal([0L, 4L, 8L], commands.Select(c => c.GetProperty("command_id").GetInt64()));
        Assert.All(commands, c => Assert.Equal("Input.dispatchMouseEvent", c.GetProperty("method").GetString()));
        Assert.All(commands, c => Assert.Equal(disconnect.GetProperty("connection_id").GetString(), c.GetProperty("connection_id").GetString()));
        var all = gw.AllEvents().Select(e => e.GetProperty("event").GetProperty("type").GetString()).ToList();
        Assert.True(all.LastIndexOf(CdpCommandEvents.Type) < all.IndexOf(ConnectionEventTypes.Disconnect), "a command came after its disconnect");
        Assert.Equal(0, disconnect.GetProperty("telemetry_dropped").GetInt64());
    }

    [Fact]
    public async Task APublisherThatBlocksForeverNeverSlowsForwarding()
    {
        var publisher = new HostilePublisher(block: true);
        try
        {
            await using var gw = await TestGateway.StartAsync(services: Use(publisher));
            using var client = await gw.ConnectAsync();

            await RoundTripAsync(client, 512);

            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            // The worker is wedged on its first command: the drain gives up after its wait and counts the rest.
            var disconnect = await gw.AdvanceUntilAsync(gw.WaitForEventAsync(ConnectionEventTypes.Disconnect), TimeSpan.FromMilliseconds(500));
            Assert.Equal(1, publisher.CommandCalls);
            Assert.Equal(128, disconnect.GetProperty("telemetry_dropped").GetInt64());
        }
        finally
        {
            publisher.Unblock.Set();
        }
    }

    [Fact]
    public async Task APublisherThatThrowsNeverBreaksForwarding_AndEachFailureIsCounted()
    {
        var publisher = new HostilePublisher(block: false);
        await using var gw = await TestGateway.StartAsync(services: Use(publisher));
        using var client = await gw.ConnectAsync();

        await RoundTripAsync(client, 512);

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        var disconnect = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal(128, disconnect.GetProperty("telemetry_dropped").GetInt64());
        Assert.Equal(128, publisher.CommandCalls);
    }

    [Fact]
    public async Task WithControlOffNothingIsReportedOrCounted()
    {
        await using var gw = await TestGateway.StartAsync();
        gw.Services<TelemetryConfig>().SetEnabled(EventCategory.Control, false);
        using var client = await gw.ConnectAsync();

        await RoundTripAsync(client, 512);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);

        var disconnect = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Empty(gw.EventsOfType(CdpCommandEvents.Type));
        Assert.Equal(0, disconnect.GetProperty("telemetry_dropped").GetInt64());
        Assert.Equal(0, disconnect.GetProperty("telemetry_excluded").GetInt64());
    }

    [Fact]
    public async Task ALargeInsertTextIsForwardedExactlyAndReportedByLengthOnly()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        var text = new string('s', 256 * 1024);
        var frame = "{\"id\":9,\"method\":\"Input.insertText\",\"params\":{\"text\":\"" + text + "\"}}";

        Assert.Equal(frame, await client.EchoAsync(frame));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);

        var command = gw.EventsOfType(CdpCommandEvents.Type).Single().GetProperty("event").GetProperty("data");
        Assert.Equal(text.Length, command.GetProperty("text_length").GetInt32());
        Assert.DoesNotContain("ssss", command.GetRawText());
    }

    [Fact]
    public async Task ExcludedMethodsAreCountedApartAndNotReported()
    {
        await using var gw = await TestGateway.StartAsync();
        gw.Services<TelemetryConfig>().SetExcludedCdpMethods(["Input.dispatchMouseEvent"]);
        using var client = await gw.ConnectAsync();

        await RoundTripAsync(client, 12);
        await client.SendTextAsync("""{"id":100,"method":"Page.reload"}""");
        await client.ReceiveMessageAsync();
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);

        var disconnect = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal("Page.reload", gw.EventsOfType(CdpCommandEvents.Type).Single().GetProperty("event").GetProperty("data").GetProperty("method").GetString());
        Assert.Equal(3, disconnect.GetProperty("telemetry_excluded").GetInt64());
        Assert.Equal(0, disconnect.GetProperty("telemetry_dropped").GetInt64());
    }

    [Fact]
    public async Task AMethodAfterLargeParamsIsStillFound()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        var frame = "{\"id\":5,\"params\":{\"text\":\"" + new string('t', 100_000) + "\"},\"method\":\"Input.insertText\"}";

        Assert.Equal(frame, await client.EchoAsync(frame));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);

        Assert.Equal(100_000, gw.EventsOfType(CdpCommandEvents.Type).Single().GetProperty("event").GetProperty("data").GetProperty("text_length").GetInt32());
    }
}
