using System.Text;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;
using Microsoft.Extensions.Logging.Abstractions;

namespace CdpGateway.Tests.Telemetry.Commands;

/// <summary>The shared command worker holds a thread only while commands come, and is back for the next one.</summary>
public sealed class CdpCommandWorkerTests
{
    private static readonly byte[] Click =
        Encoding.UTF8.GetBytes("""{"id":1,"method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":1,"y":2}}""");

    [Fact]
    public async Task An_idle_gateway_holds_no_worker_thread_and_the_next_command_is_still_published()
    {
        var stream = new EventStream(TimeProvider.System, new TelemetryConfig());
        var recorder = new CdpCommandRecorder("c1", new TelemetryConfig(), stream, TimeProvider.System, NullLogger.Instance);
        CdpCommandWorker worker = CdpCommandWorker.For(stream);

        for (int round = 1; round <= 2; round++)
        {
            Assert.True(recorder.Begin(Click, endOfMessage: true));
            recorder.Forwarded(TimeProvider.System.GetTimestamp());
            Assert.True(worker.HasThread);
            await WaitUntilAsync(() => stream.Seq == round, "the command is published");
            await WaitUntilAsync(() => !worker.HasThread, "the worker's thread ends once idle");
        }
        Assert.Equal(0, recorder.Dropped);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            Assert.False(timeout.IsCancellationRequested, "timed out waiting until " + what);
            await Task.Delay(5);
        }
    }
}
