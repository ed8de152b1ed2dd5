using System.Collections.Concurrent;
using System.Text.Json;
using CdpGateway.Telemetry;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Telemetry;

public sealed class EventStreamTests
{
    private static readonly DateTimeOffset Start = new DateTimeOffset(2025, 3, 4, 5, 6, 7, TimeSpan.Zero).AddTicks(1234567);

    private static EventStream NewStream(int capacity = 8192, TelemetryConfig? config = null, TimeProvider? time = null) =>
        new(time ?? new FakeTimeProvider(Start), config ?? new TelemetryConfig(), capacity);

    [Fact]
    public void SeqStartsAtOneAndGrowsAcrossCategories()
    {
        var stream = NewStream();
        Assert.Equal(0, stream.Seq);

        Assert.Equal(1, stream.PublishConnect("a", EventCategory.Connection));
        Assert.Equal(2, stream.PublishConnect("b", EventCategory.System));
        Assert.Equal(3, stream.PublishConnect("c", EventCategory.Control));
        Assert.Equal(4, stream.PublishConnect("d", EventCategory.Connection));

        Assert.Equal(4, stream.Seq);
        Assert.Equal([1L, 2, 3, 4], stream.Snapshot(0, 100, null).Select(e => e.Seq));
    }

    [Fact]
    public void ASwitchedOffCategoryReturnsZeroAndStoresNothing()
    {
        var config = new TelemetryConfig();
        var stream = NewStream(config: config);
        stream.PublishConnect("before");

        config.SetEnabled(EventCategory.Connection, false);
        Assert.Equal(0, stream.PublishConnect("off"));
        Assert.Equal(1, stream.Seq);
        Assert.Single(stream.Snapshot(0, 100, null));

        // Other categories are unaffected and the seq continues without a gap.
        Assert.Equal(2, stream.PublishConnect("sys", EventCategory.System));
        config.SetEnabled(EventCategory.Connection, true);
        Assert.Equal(3, stream.PublishConnect("on again"));
        Assert.Equal(0, stream.DroppedEvents);
    }

    [Fact]
    public void AnUnknownCategoryIsNotPublished()
    {
        var stream = NewStream();
        Assert.Equal(0, stream.PublishConnect("x", "made-up"));
        Assert.Equal(0, stream.Seq);
    }

    [Fact]
    public void TheEnvelopeHasTheExactShapeWithTsInMicroseconds()
    {
        var time = new FakeTimeProvider(Start);
        var stream = NewStream(time: time);
        stream.PublishConnect("conn-1");
        DateTimeOffset explicitTs = Start.AddDays(-1).AddTicks(10);
        stream.Publish(ConnectionEventTypes.Disconnect, EventCategory.Connection,
            new CdpDisconnectData { ConnectionId = "conn-1", Reason = DisconnectReason.ClientClose, DurationMs = 1.5 },
            TelemetryJsonContext.Default.CdpDisconnectData, explicitTs);

        IReadOnlyList<EventEnvelope> events = stream.Snapshot(0, 10, null);
        using JsonDocument first = JsonDocument.Parse(events[0].Utf8Json);
        JsonElement root = first.RootElement;
        Assert.Equal(["seq", "event"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, root.GetProperty("seq").GetInt64());
        JsonElement evt = root.GetProperty("event");
        Assert.Equal(["ts", "type", "category", "source", "data"], evt.EnumerateObject().Select(p => p.Name));
        long expectedTs = (Start - DateTimeOffset.UnixEpoch).Ticks / 10;
        Assert.Equal(1741064767123456, expectedTs); // 2025-03-04T05:06:07.1234567Z, truncated to µs
        Assert.Equal(expectedTs, evt.GetProperty("ts").GetInt64());
        Assert.Equal("cdp_connect", evt.GetProperty("type").GetString());
        Assert.Equal("connection", evt.GetProperty("category").GetString());
        Assert.Equal($$"""{"kind":"gateway","instance":"{{stream.Source.Id}}","boot":"{{stream.Source.BootId}}"}""", evt.GetProperty("source").GetRawText());
        Assert.Equal("""{"connection_id":"conn-1","target":"page","client_address":null}""", evt.GetProperty("data").GetRawText());

        Assert.Equal(1, events[0].Seq);
        Assert.Equal("cdp_connect", events[0].Type);
        Assert.Equal("connection", events[0].Category);

        using JsonDocument second = JsonDocument.Parse(events[1].Utf8Json);
        JsonElement secondEvent = second.RootElement.GetProperty("event");
        Assert.Equal(2, second.RootElement.GetProperty("seq").GetInt64());
        Assert.Equal((explicitTs - DateTimeOffset.UnixEpoch).Ticks / 10, secondEvent.GetProperty("ts").GetInt64());
        Assert.Equal("client_close", secondEvent.GetProperty("data").GetProperty("reason").GetString());
        Assert.DoesNotContain((byte)'\n', events[1].Utf8Json.ToArray());
    }

    [Theory]
    [InlineData("cdp_connect", EventCategory.Connection)]
    [InlineData("odd \"type\" <&> é\u0001", EventCategory.System)]
    public void PreSerializedDataGivesTheSameEnvelopeBytesAsTheSerializer(string type, string category)
    {
        // PublishUtf8 puts the envelope together from cached pieces; it must stay byte for byte what the serializer
        // path writes, escaping included, whichever type and category come one after another.
        var time = new FakeTimeProvider(Start);
        var stream = NewStream(time: time);
        var data = new CdpConnectData("c\"1", "page", "127.0.0.1:50412");
        byte[] dataJson = JsonSerializer.SerializeToUtf8Bytes(data, TelemetryJsonContext.Default.CdpConnectData);

        stream.Publish(type, category, data, TelemetryJsonContext.Default.CdpConnectData);
        stream.PublishUtf8(type, category, dataJson);
        stream.PublishUtf8("cdp_command", EventCategory.Control, dataJson);
        stream.PublishUtf8(type, category, dataJson);

        IReadOnlyList<EventEnvelope> events = stream.Snapshot(0, 10, null);
        string serialized = events[0].ToString();
        Assert.Equal(serialized.Replace("{\"seq\":1,", "{\"seq\":2,"), events[1].ToString());
        Assert.Equal(serialized.Replace("{\"seq\":1,", "{\"seq\":4,"), events[3].ToString());
        Assert.Contains("\"type\":\"cdp_command\",\"category\":\"control\",", events[2].ToString());
    }

    [Fact]
    public void TheClockIsReadAtPublishTime()
    {
        var time = new FakeTimeProvider(Start);
        var stream = NewStream(time: time);
        stream.PublishConnect("a");
        time.Advance(TimeSpan.FromMilliseconds(2.5));
        stream.PublishConnect("b");

        long[] ts = stream.Snapshot(0, 10, null)
            .Select(e => JsonDocument.Parse(e.Utf8Json).RootElement.GetProperty("event").GetProperty("ts").GetInt64())
            .ToArray();
        Assert.Equal(2500, ts[1] - ts[0]);
    }

    [Fact]
    public void AFailedSerializationIsCountedAsDroppedAndTakesNoSeq()
    {
        var stream = NewStream();
        stream.PublishConnect("a");

        long seq = stream.Publish("broken", EventCategory.System, new UnserializableData(),
            TestJsonContext.Default.UnserializableData);

        Assert.Equal(0, seq);
        Assert.Equal(1, stream.DroppedEvents);
        Assert.Equal(1, stream.Seq);
        // The per-thread writer is still usable after the failure.
        Assert.Equal(2, stream.PublishConnect("b"));
        using JsonDocument doc = JsonDocument.Parse(stream.Snapshot(1, 1, null)[0].Utf8Json);
        Assert.Equal("b", doc.RootElement.GetProperty("event").GetProperty("data").GetProperty("connection_id").GetString());
    }

    [Fact]
    public void AReaderBehindByMoreThanTheCapacityIsToldTheExactMissedCount()
    {
        var stream = NewStream(capacity: 4);
        EventStreamReader reader = stream.CreateReader(0);
        for (int i = 0; i < 10; i++)
        {
            stream.PublishConnect($"c{i}");
        }

        EventBatch batch = reader.TryRead();
        Assert.Equal(6, batch.Missed);
        Assert.Equal([7L, 8, 9, 10], batch.Events.Select(e => e.Seq));
        Assert.Equal(10, reader.Position);

        Assert.True(reader.TryRead().IsEmpty);
        stream.PublishConnect("c10");
        batch = reader.TryRead();
        Assert.Equal(0, batch.Missed);
        Assert.Equal([11L], batch.Events.Select(e => e.Seq));
    }

    [Fact]
    public void AReaderThatFellPartlyBehindMissesOnlyTheOverwrittenEvents()
    {
        var stream = NewStream(capacity: 4);
        EventStreamReader reader = stream.CreateReader(0);
        stream.PublishConnect("1");
        stream.PublishConnect("2");
        Assert.Equal([1L, 2], reader.TryRead().Events.Select(e => e.Seq));

        for (int i = 3; i <= 9; i++)
        {
            stream.PublishConnect($"{i}");
        }
        EventBatch batch = reader.TryRead(maxEvents: 2);
        Assert.Equal(3, batch.Missed); // 3, 4, 5 were overwritten; 6..9 are retained
        Assert.Equal([6L, 7], batch.Events.Select(e => e.Seq));
        batch = reader.TryRead(maxEvents: 2);
        Assert.Equal(0, batch.Missed);
        Assert.Equal([8L, 9], batch.Events.Select(e => e.Seq));
    }

    [Fact]
    public void AReaderFromTheOldestStartsAtTheOldestRetainedWithoutMissed()
    {
        var stream = NewStream(capacity: 4);
        Assert.True(stream.CreateReaderFromOldest().TryRead().IsEmpty);
        for (int i = 0; i < 6; i++)
        {
            stream.PublishConnect($"c{i}");
        }
        Assert.Equal(3, stream.OldestRetainedSeq);

        EventBatch batch = stream.CreateReaderFromOldest().TryRead();
        Assert.Equal(0, batch.Missed);
        Assert.Equal([3L, 4, 5, 6], batch.Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task ReadAsyncWaitsForTheNextPublish()
    {
        var stream = NewStream();
        stream.PublishConnect("old");
        EventStreamReader reader = stream.CreateReader(stream.Seq);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        ValueTask<EventBatch> pending = reader.ReadAsync(cancellationToken: guard.Token);
        Assert.False(pending.IsCompleted);

        stream.PublishConnect("new");
        EventBatch batch = await pending;
        Assert.Equal([2L], batch.Events.Select(e => e.Seq));
    }

    [Fact]
    public async Task WaitingIsCancelledByTheToken()
    {
        var stream = NewStream();
        EventStreamReader reader = stream.CreateReader(0);
        using var cancel = new CancellationTokenSource();
        Task wait = reader.WaitAsync(cancel.Token);
        Assert.False(wait.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }

    [Fact]
    public void SnapshotFiltersByAfterLimitAndCategory()
    {
        var stream = NewStream(capacity: 8);
        string[] categories =
        [
            EventCategory.Connection, EventCategory.System, EventCategory.Connection, EventCategory.Control,
            EventCategory.Connection, EventCategory.System,
        ];
        foreach (string category in categories)
        {
            stream.PublishConnect("x", category);
        }

        Assert.Equal([1L, 2, 3, 4, 5, 6], stream.Snapshot(0, 100, null).Select(e => e.Seq));
        Assert.Equal([4L, 5, 6], stream.Snapshot(3, 100, null).Select(e => e.Seq));
        Assert.Equal([4L, 5], stream.Snapshot(3, 2, null).Select(e => e.Seq));
        Assert.Equal([1L, 3, 5], stream.Snapshot(0, 100, EventCategory.Connection).Select(e => e.Seq));
        Assert.Equal([3L], stream.Snapshot(1, 1, EventCategory.Connection).Select(e => e.Seq));
        Assert.Equal([6L], stream.Snapshot(2, 100, EventCategory.System).Select(e => e.Seq));
        Assert.Empty(stream.Snapshot(6, 100, null));
        Assert.Empty(stream.Snapshot(100, 100, null));

        // Only what the ring still holds.
        for (int i = 0; i < 6; i++)
        {
            stream.PublishConnect("y");
        }
        Assert.Equal([5L, 6, 7, 8, 9, 10, 11, 12], stream.Snapshot(0, 100, null).Select(e => e.Seq));
    }

    [Fact]
    public void ConcurrentPublishersGetUniqueConsecutiveSeqs()
    {
        const int threads = 8;
        const int perThread = 2000;
        var stream = NewStream(capacity: threads * perThread);
        var seqs = new ConcurrentBag<long>();

        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (int i = 0; i < perThread; i++)
            {
                seqs.Add(stream.PublishConnect($"{t}-{i}"));
            }
        });

        Assert.Equal(Enumerable.Range(1, threads * perThread).Select(i => (long)i), seqs.Order());
        IReadOnlyList<EventEnvelope> all = stream.Snapshot(0, threads * perThread, null);
        Assert.Equal(threads * perThread, all.Count);
        foreach (EventEnvelope envelope in all)
        {
            using JsonDocument doc = JsonDocument.Parse(envelope.Utf8Json);
            Assert.Equal(envelope.Seq, doc.RootElement.GetProperty("seq").GetInt64());
        }
    }

    [Fact]
    public void ReadersRacingAPublisherThatOverwritesTheRingGetWholeEventsOrCountThemAsMissed()
    {
        // A ring of 4 written over 20,000 times while two readers follow it: slots are rewritten in place (with events
        // of changing sizes, so their buffers are replaced too), and a reader must never return an event torn by a
        // concurrent write, nor one under another event's seq; what it could not copy whole is missed, not lost.
        const int events = 20_000;
        var stream = NewStream(capacity: 4);
        var failures = new ConcurrentQueue<string>();
        long[] accounted = new long[2];
        using var done = new ManualResetEventSlim();

        Thread[] readers = [.. Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            EventStreamReader reader = stream.CreateReader(0);
            while (reader.Position < events)
            {
                EventBatch batch = reader.TryRead(maxEvents: 3);
                accounted[r] += batch.Missed + batch.Events.Count;
                foreach (EventEnvelope envelope in batch.Events)
                {
                    try
                    {
                        using JsonDocument doc = JsonDocument.Parse(envelope.Utf8Json);
                        long seq = doc.RootElement.GetProperty("seq").GetInt64();
                        JsonElement data = doc.RootElement.GetProperty("event").GetProperty("data");
                        long n = data.GetProperty("n").GetInt64();
                        int pad = data.GetProperty("pad").GetString()!.Length;
                        if (seq != envelope.Seq || n != envelope.Seq || pad != PadFor(n))
                        {
                            failures.Enqueue($"seq {envelope.Seq} held seq {seq}, n {n}, pad {pad}");
                        }
                    }
                    catch (JsonException e)
                    {
                        failures.Enqueue($"seq {envelope.Seq} is not JSON: {e.Message}");
                    }
                }
            }
        })).ToArray()];
        foreach (Thread reader in readers)
        {
            reader.Start();
        }
        for (long n = 1; n <= events; n++)
        {
            byte[] data = System.Text.Encoding.UTF8.GetBytes($$"""{"n":{{n}},"pad":"{{new string('p', PadFor(n))}}"}""");
            Assert.Equal(n, stream.PublishUtf8("test_event", EventCategory.Connection, data));
        }
        foreach (Thread reader in readers)
        {
            Assert.True(reader.Join(TimeSpan.FromSeconds(30)), "a reader did not reach the last event");
        }

        Assert.Empty(failures);
        // Every seq was either returned or counted as missed, once.
        Assert.Equal([events, events], accounted);

        static int PadFor(long n) => (int)(n * 7919 % 700);
    }

    [Fact]
    public void SinksReceiveEveryEventInOrderAndTheirRefusalsCountAsDropped()
    {
        var stream = NewStream();
        var recording = new RecordingSink();
        var refusing = new RefusingSink();
        var throwing = new ThrowingSink();
        stream.PublishConnect("before sinks");
        stream.AddSink(recording);
        stream.AddSink(refusing);
        stream.AddSink(throwing);

        Assert.Equal(2, stream.PublishConnect("a"));
        Assert.Equal(3, stream.PublishConnect("b"));
        Assert.Equal([2L, 3], recording.Received.Select(e => e.Seq));
        Assert.Equal(4, stream.DroppedEvents); // two refused, two thrown

        stream.RemoveSink(refusing);
        stream.RemoveSink(throwing);
        stream.PublishConnect("c");
        Assert.Equal([2L, 3, 4], recording.Received.Select(e => e.Seq));
        Assert.Equal(4, stream.DroppedEvents);
    }

    private sealed class RecordingSink : IEventSink
    {
        public List<EventEnvelope> Received { get; } = [];

        public bool TryEnqueue(EventEnvelope envelope)
        {
            Received.Add(envelope);
            return true;
        }
    }

    private sealed class RefusingSink : IEventSink
    {
        public bool TryEnqueue(EventEnvelope envelope) => false;
    }

    private sealed class ThrowingSink : IEventSink
    {
        public bool TryEnqueue(EventEnvelope envelope) => throw new InvalidOperationException("sink bug");
    }
}
