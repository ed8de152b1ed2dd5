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
    private static readonly JsonEncodedText InstanceName = JsonEncodedText.Encode("instance");
    private static readonly JsonEncodedText BootName = JsonEncodedText.Encode("boot");
    private static readonly JsonEncodedText DataName = JsonEncodedText.Encode("data");

    // Compact output is required, not just smaller: an envelope must never contain a raw newline because SSE data
    // fields and the JSON-lines events file both carry it verbatim on one line.
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false };

    private ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _writer;

    // The type, category and publisher whose middle part (MiddleFor) is cached.
    private string? _middleType;
    private string? _middleCategory;
    private GatewayInstance? _middleSource;
    private byte[] _middle = [];

    public EventJsonWriter() => _writer = new Utf8JsonWriter(_buffer, WriterOptions);

    /// <summary>The bytes produced by the last successful <see cref="Write{T}"/>; valid until the next call.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public void Write<T>(long tsMicroseconds, string type, string category, GatewayInstance source, T data, JsonTypeInfo<T> dataType)
    {
        WriteHead(tsMicroseconds, type, category, source);
        JsonSerializer.Serialize(_writer, data, dataType);
        _writer.WriteEndObject();
        _writer.Flush();
    }

    /// <summary>
    /// Like <see cref="Write{T}"/> for data that is already one compact UTF-8 JSON object, embedded unchanged (what a
    /// converter writing <see cref="Utf8JsonWriter.WriteRawValue(ReadOnlySpan{byte}, bool)"/> would produce).
    /// </summary>
    /// <remarks>
    /// The bytes are put together directly: everything from <c>"type"</c> to <c>"data":</c> is the same for every event
    /// of one type and category, so it is written by the JSON writer once (<see cref="MiddleFor"/>) and copied after
    /// that; the output is byte for byte what the writer would produce.
    /// </remarks>
    public void WriteUtf8(long tsMicroseconds, string type, string category, GatewayInstance source, ReadOnlySpan<byte> dataJson)
    {
        ReadOnlySpan<byte> middle = MiddleFor(type, category, source);
        ResetBuffer();
        ReadOnlySpan<byte> digits = SplicedJsonObject.FormatNumber(tsMicroseconds, stackalloc byte[SplicedJsonObject.MaxNumberBytes]);
        ReadOnlySpan<byte> opening = "{\"ts\":"u8;
        int length = SplicedJsonObject.Length(opening, digits, middle, dataJson);
        SplicedJsonObject.CopyTo(_buffer.GetSpan(length), opening, digits, middle, dataJson);
        _buffer.Advance(length);
    }

    private void WriteHead(long tsMicroseconds, string type, string category, GatewayInstance source)
    {
        ResetBuffer();
        // Reset also clears any state a previous, failed serialization left behind.
        _writer.Reset(_buffer);

        _writer.WriteStartObject();
        _writer.WriteNumber(TsName, tsMicroseconds);
        WriteMiddle(_writer, type, category, source);
    }

    private static void WriteMiddle(Utf8JsonWriter writer, string type, string category, GatewayInstance source)
    {
        writer.WriteString(TypeName, type);
        writer.WriteString(CategoryName, category);
        writer.WriteStartObject(SourceName);
        writer.WriteString(KindName, GatewayValue);
        writer.WriteString(InstanceName, source.Id);
        writer.WriteString(BootName, source.BootId);
        writer.WriteEndObject();
        writer.WritePropertyName(DataName);
    }

    private void ResetBuffer()
    {
        if (_buffer.Capacity > MaxRetainedBufferBytes)
        {
            _buffer = new ArrayBufferWriter<byte>(1024);
        }
        else
        {
            _buffer.ResetWrittenCount();
        }
    }

    /// <summary>
    /// <c>,"type":..,"category":..,"source":{"kind":"gateway","instance":..,"boot":..},"data":</c> for one type, category
    /// and publisher, as the JSON writer writes it after the <c>ts</c> member; kept for the last ones asked for (a
    /// publisher of commands asks for the same every time).
    /// </summary>
    private ReadOnlySpan<byte> MiddleFor(string type, string category, GatewayInstance source)
    {
        if (!ReferenceEquals(type, _middleType) || !ReferenceEquals(category, _middleCategory) || !ReferenceEquals(source, _middleSource))
        {
            var bytes = new ArrayBufferWriter<byte>(128);
            using (var writer = new Utf8JsonWriter(bytes, WriterOptions))
            {
                // The writer wants a value before the next member: a one-member object whose head is cut off again.
                writer.WriteStartObject();
                writer.WriteNumber(TsName, 0);
                WriteMiddle(writer, type, category, source);
                writer.WriteNullValue();
                writer.WriteEndObject();
            }
            ReadOnlySpan<byte> written = bytes.WrittenSpan;
            int start = "{\"ts\":0"u8.Length;
            _middle = written[start..^"null}"u8.Length].ToArray();
            _middleType = type;
            _middleCategory = category;
            _middleSource = source;
        }
        return _middle;
    }
}
