using System.Text;
using BenchmarkDotNet.Attributes;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Commands;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bench.Micro;

/// <summary>The client frames the admission benchmarks read (the same shapes as CdpCommandAdmissionCostTests).</summary>
public static class CommandFrames
{
    public const string Control = "control (Input.dispatchMouseEvent)";
    public const string Library = "library (Runtime.callFunctionOn)";
    public const string LargeMethodFirst = "library 1 MiB, method first";
    public const string LargeMethodLast = "library 1 MiB, method after params";

    public static byte[] Get(string name) => Encoding.UTF8.GetBytes(name switch
    {
        Control => """{"id":12,"sessionId":"5A3C1B2D4E","method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":100,"y":200,"button":"left","clickCount":1}}""",
        Library => """{"id":13,"sessionId":"5A3C1B2D4E","method":"Runtime.callFunctionOn","params":{"functionDeclaration":"function(){return this.value}","objectId":"-1.2.3","returnByValue":true}}""",
        LargeMethodFirst => $$$"""{"id":15,"method":"Runtime.callFunctionOn","params":{"functionDeclaration":"function(v){}","arguments":[{"value":"{{{new string('x', 1 << 20)}}}"}]}}""",
        LargeMethodLast => $$$"""{"id":16,"params":{"functionDeclaration":"function(v){}","arguments":[{"value":"{{{new string('x', 1 << 20)}}}"}]},"method":"Runtime.callFunctionOn"}""",
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    });
}

/// <summary>
/// Admission of one client text frame on the forwarding path: <see cref="CdpCommandClassifier.TryReadMethod"/>, and
/// what the relay calls on <see cref="CdpCommandRecorder"/> (control telemetry on). <c>whole</c> hands the frame over
/// in one piece; <c>32 KiB chunks</c> is how the relay hands over a long message (WebSocketFrameRelay.ChunkBytes): the
/// first chunk is scanned for the method and, when the method is not there yet, the message is captured until its
/// end decides. A frame that is not reported ends with Forwarded (nothing queued); an admitted one is abandoned, so
/// these figures are admission and capture only (the worker's part is in <see cref="CommandCostBenchmarks"/>).
/// </summary>
[MemoryDiagnoser]
public class AdmissionBenchmarks
{
    private byte[] _frame = null!;
    private CdpCommandRecorder _recorder = null!;
    private bool _reported;

    [Params(CommandFrames.Control, CommandFrames.Library, CommandFrames.LargeMethodFirst, CommandFrames.LargeMethodLast)]
    public string Frame { get; set; } = CommandFrames.Control;

    [GlobalSetup]
    public void Setup()
    {
        _frame = CommandFrames.Get(Frame);
        var config = new TelemetryConfig();
        var stream = new EventStream(TimeProvider.System, config);
        CdpCommandWorker.CreateManual(stream); // nothing is queued here; no thread either
        _recorder = new CdpCommandRecorder("0123456789abcdef", config, stream, TimeProvider.System, NullLogger.Instance);
        _reported = CdpCommandClassifier.TryReadMethod(_frame, out _);
    }

    [Benchmark(Description = "TryReadMethod")]
    public bool TryReadMethod() => CdpCommandClassifier.TryReadMethod(_frame, out _);

    [Benchmark(Description = "recorder: Begin, whole")]
    public bool BeginWhole()
    {
        bool tapped = _recorder.Begin(_frame, endOfMessage: true);
        if (tapped)
        {
            _recorder.Abandon();
        }
        return tapped;
    }

    [Benchmark(Description = "recorder: Begin+Append+Forwarded, 32 KiB chunks")]
    public bool Chunked()
    {
        const int chunk = 32 * 1024;
        ReadOnlySpan<byte> frame = _frame;
        int first = Math.Min(chunk, frame.Length);
        bool tapped = _recorder.Begin(frame[..first], endOfMessage: first == frame.Length);
        if (!tapped)
        {
            return false;
        }
        for (int at = first; at < frame.Length; at += chunk)
        {
            _recorder.Append(frame.Slice(at, Math.Min(chunk, frame.Length - at)));
        }
        if (_reported)
        {
            _recorder.Abandon();
        }
        else
        {
            _recorder.Forwarded(TimeProvider.System.GetTimestamp());
        }
        return true;
    }
}

/// <summary>
/// What one reported control command costs the gateway in all (Input.dispatchMouseEvent, control telemetry on),
/// on one thread: admission and copy on the relay thread (Begin, Forwarded: queued), then the worker's part
/// (classify, publish into the 8192-event ring). The ring keeps each event's envelope, so those bytes are allocated
/// by design (about 330 B here).
/// </summary>
[MemoryDiagnoser]
public class CommandCostBenchmarks
{
    private static readonly byte[] Click = CommandFrames.Get(CommandFrames.Control);
    private EventStream _stream = null!;
    private CdpCommandRecorder _recorder = null!;
    private CdpCommandWorker _worker = null!;
    private CdpCommandData _data = null!;

    [GlobalSetup]
    public void Setup()
    {
        var config = new TelemetryConfig();
        _stream = new EventStream(TimeProvider.System, config);
        _worker = CdpCommandWorker.CreateManual(_stream);
        _recorder = new CdpCommandRecorder("0123456789abcdef", config, _stream, TimeProvider.System, NullLogger.Instance);
        _data = CdpCommandClassifier.Classify(Click, CdpMethod.InputDispatchMouseEvent, "0123456789abcdef").Data!;
    }

    [Benchmark(Description = "whole command: Begin+Forwarded, worker Classify+Publish")]
    public long Whole()
    {
        _recorder.Begin(Click, endOfMessage: true);
        _recorder.Forwarded(TimeProvider.System.GetTimestamp());
        _worker.RunPending();
        return _stream.Seq;
    }

    [Benchmark(Description = "Classify (public API: allocates the CdpCommandData)")]
    public object Classify() => CdpCommandClassifier.Classify(Click, CdpMethod.InputDispatchMouseEvent, "0123456789abcdef").Data!;

    [Benchmark(Description = "Publish a CdpCommandData (serializer path)")]
    public long PublishData() => _stream.PublishCommand(_data, DateTimeOffset.UtcNow);

    [Benchmark(Description = "PublishUtf8 (prebuilt payload)")]
    public long PublishUtf8() => _stream.PublishUtf8(CdpCommandEvents.Type, CdpCommandEvents.Category, _data.Utf8Json.Span, DateTimeOffset.UtcNow);
}
