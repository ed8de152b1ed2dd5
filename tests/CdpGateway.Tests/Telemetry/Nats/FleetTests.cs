using System.Text.Json;
using CdpGateway.Telemetry.Nats;
using CdpGateway.Tests.Support;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>
/// The README's "Running a fleet": several gateways with their own instance ids publish into one JetStream stream, and a
/// durable consumer written as the README shows it follows every connection end of the fleet, each once.
/// </summary>
public sealed class FleetTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    [Fact]
    public async Task ThreeGatewaysShareOneStream_AndADurableConsumerSeesEveryConnectionEndOnceAttributedToItsGateway()
    {
        var server = await NatsServerProcess.StartAsync();
        _owned.Add(server);
        var gateways = new List<TestGateway>();
        foreach (var id in new[] { "web-1", "web-2", "web-3" })
        {
            var gateway = await TestGateway.StartAsync(o => { o.NatsUrl = server.Url; o.InstanceId = id; });
            _owned.Add(gateway);
            gateways.Add(gateway);
        }
        for (int i = 0; i < gateways.Count; i++)
        {
            for (int c = 0; c <= i; c++)
            {
                using var client = await gateways[i].ConnectAsync();
                await client.EchoAsync("{\"id\":1,\"method\":\"Echo.test\"}");
            }
            await gateways[i].WaitForEventAsync("cdp_disconnect", i + 1);
        }
        // Each gateway ships on its own schedule: the consumer starts once they have all handed over what they produced.
        foreach (var gateway in gateways)
        {
            var sink = gateway.Services<NatsEventSink>();
            await Eventually.TrueAsync(() => sink.Published >= gateway.App.Events.Seq && sink.SpooledEvents == 0 && sink.Pending == 0,
                () => $"every event acknowledged (published {sink.Published} of {gateway.App.Events.Seq}, last error {sink.Status().LastError})");
        }

        var ends = await FollowConnectionEndsAsync(server.Url, expected: 1 + 2 + 3);

        Assert.Equal(["web-1", "web-2", "web-2", "web-3", "web-3", "web-3"], ends.Select(e => e.Instance).Order());
        Assert.Equal(ends.Count, ends.Select(e => (e.Instance, e.Boot, e.Seq)).Distinct().Count());
        Assert.All(ends, e => Assert.Equal("client_close", e.Reason));
    }

    private sealed record ConnectionEnd(string Instance, string Boot, long Seq, string Reason);

    /// <summary>The README's consumer: durable, filtered to connection ends, explicit acks.</summary>
    private static async Task<List<ConnectionEnd>> FollowConnectionEndsAsync(string url, int expected)
    {
        await using var nats = new NatsConnection(new NatsOpts { Url = url });
        var js = new NatsJSContext(nats);
        var consumer = await js.CreateOrUpdateConsumerAsync("CDP", new ConsumerConfig("billing")
        {
            FilterSubject = "cdp.*.connection.cdp_disconnect",
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
        });
        var ends = new List<ConnectionEnd>();
        using var patience = new CancellationTokenSource(TestGateway.Patience);
        await foreach (var msg in consumer.ConsumeAsync<byte[]>(cancellationToken: patience.Token))
        {
            using var doc = JsonDocument.Parse(msg.Data);
            var source = doc.RootElement.GetProperty("event").GetProperty("source");
            var data = doc.RootElement.GetProperty("event").GetProperty("data");
            ends.Add(new ConnectionEnd(source.GetProperty("instance").GetString()!, source.GetProperty("boot").GetString()!,
                doc.RootElement.GetProperty("seq").GetInt64(), data.GetProperty("reason").GetString()!));
            await msg.AckAsync(cancellationToken: patience.Token);
            if (ends.Count == expected)
            {
                break;
            }
        }
        return ends;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }
    }
}
