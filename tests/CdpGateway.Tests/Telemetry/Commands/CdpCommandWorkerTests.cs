using System.Text;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace CdpGateway.Tests.Telemetry.Commands;

/// <summary>The shared command worker holds a thread only while commands come, and is back for the next one.</summary>
public sealed class CdpCommandWorkerTests
{
    private static readonly byte[] Click =
        Encoding.UTF8.GetBytes("""{"id":1,"method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":1,"y":2}}""");

    [Fact]
    public async Task AnIdleGatewayHoldsNoWorkerThreadAndTheNextCommandIsStillPublished()
    {
        var stream = new EventStream(TimeProvider.System, new TelemetryConfig());
        var recorder = new CdpCommandRecorder("c1", new TelemetryConfig(), stream, TimeProvider.System, NullLogger.Instance);
        CdpCommandWorker worker = CdpCommandWorker.For(stream);

        for (int round = 1; round <= 2; round++)
        {
            Assert.True(recorder.Begin(Click, endOfMessage: true));
            recorder.Forwarded(TimeProvider.System.GetTimestamp());
            Assert.True(worker.HasThread);
            await Eventually.TrueAsync(() => stream.Seq == round, "the command is published");
            await Eventually.TrueAsync(() => !worker.HasThread, "the worker's thread ends once idle");
        }
        Assert.Equal(0, recorder.Dropped);
    }

    [Fact]
    public void AConnectionWhoseQueueFillsWakesTheWorkerOnceLongBeforeTheQueueBound()
    {
        var stream = new EventStream(TimeProvider.System, new TelemetryConfig());
        CdpCommandWorker worker = CdpCommandWorker.CreateManual(stream);
        var recorder = new CdpCommandRecorder("c1", new TelemetryConfig(), stream, TimeProvider.System, NullLogger.Instance);

        Send(recorder, Click, CdpCommandWorker.WakeFrames - 1);
        Assert.Equal(0, worker.EarlyWakes); // a trickle waits for its batch
        Send(recorder, Click, 1);
        Assert.Equal(1, worker.EarlyWakes);
        Send(recorder, Click, 10);
        Assert.Equal(1, worker.EarlyWakes); // once per filling, not once per command after the mark

        worker.RunPending();
        Assert.Equal(CdpCommandWorker.WakeFrames + 10, stream.Seq);
        Send(recorder, Click, CdpCommandWorker.WakeFrames);
        Assert.Equal(2, worker.EarlyWakes); // the queue emptied, so the next burst wakes it again

        // A few large commands reach the byte mark before the frame mark.
        worker.RunPending();
        string text = new('a', (int)(CdpCommandWorker.WakeBytes / 3));
        byte[] large = Encoding.UTF8.GetBytes("{\"id\":2,\"method\":\"Input.insertText\",\"params\":{\"text\":\"" + text + "\"}}");
        Send(recorder, large, 2);
        Assert.Equal(2, worker.EarlyWakes);
        Send(recorder, large, 1);
        Assert.Equal(3, worker.EarlyWakes);
        worker.RunPending();
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(2 * CdpCommandWorker.WakeFrames + 10 + 3, stream.Seq);
    }

    private static void Send(CdpCommandRecorder recorder, byte[] command, int count)
    {
        for (int i = 0; i < count; i++)
        {
            Assert.True(recorder.Begin(command, endOfMessage: true));
            recorder.Forwarded(TimeProvider.System.GetTimestamp());
        }
    }
}
