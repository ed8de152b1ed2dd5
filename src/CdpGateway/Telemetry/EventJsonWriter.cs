using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace CdpGateway.Telemetry;

/// <summary>
/// Serializes the <c>event</c> part of an envelope (<c>{"ts":..,"type":..,"category":..,"source":{..},"data":{..}}</c>)
/// into a reusable buffer. One instance is cached per thread by <see cref="EventStream"/> so that the publisher path
/// allocates no writer or buffer per event; the seq is added later, under the stream's lock.
/// </summary>
internal sealed class EventJsonWriter
{
    // A buffer that grew for one unusually large event is dropped rather than kept alive per thread for ever.
    private const int MaxRetainedBufferBytes = 64 * 1024;

    private static readonly JsonEncodedText TsName = JsonEncodedText.Encode("ts");
    private static readonly JsonEncodedText TypeName = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText CategoryName = JsonEncodedText.Encode("category");
    private static readonly JsonEncodedText SourceName = JsonEncodedText.Encode("source");
    private static readonly JsonEncodedText KindName = JsonEncodedText.Encode("kind");
    private static readonly JsonEncodedText GatewayValue = JsonEncodedText.Encode("gateway");
    private static readonly JsonEncodedText DataName = JsonEncodedText.Encode("data");

    // Compact output is required, not just smaller: an envelope must never contain a raw newline because SSE data
    // fields and the JSON-lines events file both carry it verbatim on one line.
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false };

    private ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _writer;

    public EventJsonWriter() => _writer = new Utf8JsonWriter(_buffer, WriterOptions);

    /// <summary>The bytes produced by the last successful <see cref="Write{T}"/>; valid until the next call.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public void Write<T>(long tsMicroseconds, string type, string category, T data, JsonTypeInfo<T> dataType)
    {
        WriteHead(tsMicroseconds, type, category);
        JsonSerializer.Serialize(_writer, data, dataType);
        _writer.WriteEndObject();
        _writer.Flush();
    }

    /// <summary>
    /// Like <see cref="Write{T}"/> for data that is already one compact UTF-8 JSON object, embedded unchanged (what a
    /// converter writing <see cref="Utf8JsonWriter.WriteRawValue(ReadOnlySpan{byte}, bool)"/> would produce).
    /// </summary>
    public void WriteUtf8(long tsMicroseconds, string type, string category, ReadOnlySpan<byte> dataJson)
    {
        WriteHead(tsMicroseconds, type, category);
        _writer.WriteRawValue(dataJson, skipInputValidation: true);
        _writer.WriteEndObject();
        _writer.Flush();
    }

    private void WriteHead(long tsMicroseconds, string type, string category)
    {
        if (_buffer.Capacity > MaxRetainedBufferBytes)
        {
            _buffer = new ArrayBufferWriter<byte>(1024);
        }
        else
        {
            _buffer.ResetWrittenCount();
        }
        // Reset also clears any state a previous, failed serialization left behind.
        _writer.Reset(_buffer);

        _writer.WriteStartObject();
        _writer.WriteNumber(TsName, tsMicroseconds);
        _writer.WriteString(TypeName, type);
        _writer.WriteString(CategoryName, category);
        _writer.WriteStartObject(SourceName);
        _writer.WriteString(KindName, GatewayValue);
        _writer.WriteEndObject();
        _writer.WritePropertyName(DataName);
    }
}
