namespace CdpGateway.Telemetry;

/// <summary>
/// One published telemetry event, already serialized. The envelope is encoded exactly once, at publish time,
/// so every consumer (ring readers, the SSE stream, the events endpoint, the events file) shares the same bytes
/// instead of re-serializing per reader.
/// </summary>
public sealed class EventEnvelope
{
    public EventEnvelope(long seq, string category, string type, ReadOnlyMemory<byte> utf8Json)
    {
        Seq = seq;
        Category = category;
        Type = type;
        Utf8Json = utf8Json;
    }

    /// <summary>The process-wide sequence number (starts at 1, only grows).</summary>
    public long Seq { get; }

    public string Category { get; }

    public string Type { get; }

    /// <summary>
    /// The whole envelope <c>{"seq":N,"event":{...}}</c> as compact UTF-8 JSON. It never contains a raw newline,
    /// which is what lets SSE <c>data:</c> fields and JSON lines carry it unchanged.
    /// </summary>
    public ReadOnlyMemory<byte> Utf8Json { get; }

    public override string ToString() => System.Text.Encoding.UTF8.GetString(Utf8Json.Span);
}
