using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>One message as a test consumer reads it off the stream.</summary>
internal sealed record StoredEvent(string Subject, string? MsgId, long Seq, string Instance, string Boot, string Json);

/// <summary>A test consumer: reads every message of a stream, in stream order, with NATS.Net.</summary>
internal static class JetStreamContents
{
    /// <summary>Every message of <paramref name="stream"/>; <paramref name="options"/> adds what the server asks for (TLS, credentials).</summary>
    public static async Task<IReadOnlyList<StoredEvent>> ReadAllAsync(string url, string stream = "CDP", NatsOpts? options = null)
    {
        await using var nats = new NatsConnection((options ?? NatsOpts.Default) with { Url = url });
        var js = new NatsJSContext(nats);
        var info = await js.GetStreamAsync(stream);
        long total = (long)info.Info.State.Messages;
        var events = new List<StoredEvent>();
        if (total == 0)
        {
            return events;
        }
        var consumer = await js.CreateOrderedConsumerAsync(stream, new NatsJSOrderedConsumerOpts { DeliverPolicy = ConsumerConfigDeliverPolicy.All });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var msg in consumer.ConsumeAsync<byte[]>(cancellationToken: timeout.Token))
        {
            var json = System.Text.Encoding.UTF8.GetString(msg.Data!);
            using var doc = JsonDocument.Parse(json);
            var source = doc.RootElement.GetProperty("event").GetProperty("source");
            events.Add(new StoredEvent(msg.Subject, msg.Headers?["Nats-Msg-Id"].ToString(), doc.RootElement.GetProperty("seq").GetInt64(),
                source.GetProperty("instance").GetString()!, source.GetProperty("boot").GetString()!, json));
            if (events.Count == total)
            {
                break;
            }
        }
        return events;
    }

    /// <summary>Asserts that <paramref name="events"/> are exactly <paramref name="seqs"/> of one boot, once each, in order, each with its Msg-Id.</summary>
    public static void AssertExactly(IEnumerable<StoredEvent> events, string instance, string boot, IEnumerable<long> seqs)
    {
        var mine = events.Where(e => e.Boot == boot).ToList();
        Assert.Equal(seqs.ToList(), mine.Select(e => e.Seq).ToList());
        foreach (var e in mine)
        {
            Assert.Equal($"{instance}:{boot}:{e.Seq}", e.MsgId);
            Assert.Equal(instance, e.Instance);
        }
    }
}
