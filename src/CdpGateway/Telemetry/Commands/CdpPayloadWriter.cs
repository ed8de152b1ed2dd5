using System.Buffers;
using System.Text.Json;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// A reusable buffer and JSON writer for <c>cdp_command</c> payloads, cached per thread, so classifying a command
/// allocates no writer, no growing buffer and no intermediate array.
/// </summary>
internal sealed class CdpPayloadWriter
{
    // Payloads stay under 4 KiB; the truncation fallback can write one about that size first.
    private const int InitialBytes = 1024;
    private const int MaxRetainedBytes = 16 * 1024;

    // Compact output: the payload is embedded unchanged in envelopes that must stay on one line.
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, SkipValidation = true };

    [ThreadStatic] private static CdpPayloadWriter? t_cached;

    private ArrayBufferWriter<byte> _buffer = new(InitialBytes);
    private readonly Utf8JsonWriter _writer;

    private CdpPayloadWriter() => _writer = new Utf8JsonWriter(_buffer, WriterOptions);

    /// <summary>This thread's writer (taken out of the cache until <see cref="Return"/>).</summary>
    public static CdpPayloadWriter Rent()
    {
        CdpPayloadWriter? writer = t_cached;
        t_cached = null;
        return writer ?? new CdpPayloadWriter();
    }

    public static void Return(CdpPayloadWriter writer) => t_cached = writer;

    /// <summary>The payload written since the last <see cref="Start"/> (valid until the next one).</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public int WrittenCount => _buffer.WrittenCount;

    /// <summary>Empties the buffer and returns the writer, reset (also from a failed, half-written payload).</summary>
    public Utf8JsonWriter Start()
    {
        if (_buffer.Capacity > MaxRetainedBytes)
        {
            _buffer = new ArrayBufferWriter<byte>(InitialBytes);
        }
        else
        {
            _buffer.ResetWrittenCount();
        }
        _writer.Reset(_buffer);
        return _writer;
    }
}
