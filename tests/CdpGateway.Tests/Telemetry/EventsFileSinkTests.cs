using System.Text.Json;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace CdpGateway.Tests.Telemetry;

public sealed class EventsFileSinkTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cdpgw-events-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static EventStream NewStream() => new(new FakeTimeProvider(), new TelemetryConfig());

    [Fact]
    public async Task EventsPublishedConcurrentlyBecomeCompleteLinesInSeqOrder()
    {
        const int threads = 8;
        const int perThread = 2500;
        var stream = NewStream();
        string path = Path.Combine(_directory, "nested", "deeper", "events.jsonl");
        var sink = new EventsFileSink(path, stream, new RecordingLogger<EventsFileSink>());

        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (int i = 0; i < perThread; i++)
            {
                stream.PublishConnect($"{t}-{i}");
            }
        });
        await sink.DisposeAsync();

        byte[] content = await File.ReadAllBytesAsync(path);
        Assert.Equal((byte)'\n', content[^1]);
        string[] lines = System.Text.Encoding.UTF8.GetString(content).Split('\n');
        Assert.Equal(threads * perThread + 1, lines.Length); // the last "line" is what follows the final '\n'
        Assert.Equal("", lines[^1]);
        for (int i = 0; i < threads * perThread; i++)
        {
            using JsonDocument doc = JsonDocument.Parse(lines[i]);
            Assert.Equal(i + 1, doc.RootElement.GetProperty("seq").GetInt64());
            Assert.Equal("cdp_connect", doc.RootElement.GetProperty("event").GetProperty("type").GetString());
        }
        Assert.Equal(threads * perThread, sink.LinesWritten);
        Assert.Equal(0, sink.LinesLost);
        Assert.Equal(0, stream.DroppedEvents);
    }

    [Fact]
    public async Task TheFileIsAppendedToNotReplaced()
    {
        Directory.CreateDirectory(_directory);
        string path = Path.Combine(_directory, "events.jsonl");
        await File.WriteAllTextAsync(path, "{\"earlier\":true}\n");

        var stream = NewStream();
        await using (new EventsFileSink(path, stream, new RecordingLogger<EventsFileSink>()))
        {
            stream.PublishConnect("a");
        }

        string[] lines = await File.ReadAllLinesAsync(path);
        Assert.Equal(2, lines.Length);
        Assert.Equal("{\"earlier\":true}", lines[0]);
        Assert.Equal(stream.Snapshot(0, 1, null)[0].ToString(), lines[1]);
    }

    [Fact]
    public async Task AnEventReachesTheFileWithoutWaitingForDispose()
    {
        var stream = NewStream();
        string path = Path.Combine(_directory, "events.jsonl");
        await using var sink = new EventsFileSink(path, stream, new RecordingLogger<EventsFileSink>());

        stream.PublishConnect("prompt");

        // The file is polled: there is nothing to await on a file.
        string content = "";
        await Eventually.TrueAsync(async () =>
        {
            using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            content = await new StreamReader(reader).ReadToEndAsync();
            return content.EndsWith('\n');
        }, "a whole line in the events file");
        Assert.Equal(stream.Snapshot(0, 1, null)[0] + "\n", content);
    }

    [Fact]
    public async Task EventsPublishedAfterDisposeAreNotWrittenAndDoNotThrow()
    {
        var stream = NewStream();
        string path = Path.Combine(_directory, "events.jsonl");
        var sink = new EventsFileSink(path, stream, new RecordingLogger<EventsFileSink>());
        stream.PublishConnect("a");
        await sink.DisposeAsync();

        Assert.Equal(2, stream.PublishConnect("b"));
        Assert.Single(await File.ReadAllLinesAsync(path));
        Assert.Equal(0, stream.DroppedEvents);
    }

    [Fact]
    public async Task AWriteErrorIsCountedAndLoggedOnceWithoutThrowing()
    {
        // /dev/full accepts the open and fails every write with ENOSPC: a disk that is full.
        if (!File.Exists("/dev/full"))
        {
            return; // not Linux
        }
        var stream = NewStream();
        var logger = new RecordingLogger<EventsFileSink>();
        var sink = new EventsFileSink("/dev/full", stream, logger);

        for (int i = 0; i < 5; i++)
        {
            stream.PublishConnect($"c{i}");
            // One event per batch, so every event is a separate failed write.
            await Eventually.TrueAsync(() => sink.LinesLost + sink.LinesWritten >= i + 1, $"event {i} written or lost");
        }
        await sink.DisposeAsync();

        Assert.Equal(5, sink.LinesLost);
        Assert.Equal(0, sink.LinesWritten);
        Assert.Equal(5, stream.DroppedEvents);
        Assert.Equal(5, stream.Seq);
        Assert.Single(logger.Entries, e => e.Level == LogLevel.Error);
    }
}
