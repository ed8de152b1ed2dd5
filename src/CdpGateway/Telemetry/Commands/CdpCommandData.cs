using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// The <c>data</c> of one <c>cdp_command</c> event, already serialized: a JSON object of at most
/// <see cref="CdpCommandClassifier.MaxPayloadBytes"/> bytes built by <see cref="CdpCommandClassifier.Classify"/>.
/// It serializes as that object, unchanged.
/// </summary>
[JsonConverter(typeof(CdpCommandDataConverter))]
public sealed class CdpCommandData
{
    private readonly byte[] _json;

    internal CdpCommandData(CdpMethod method, byte[] json)
    {
        Method = method;
        _json = json;
    }

    public CdpMethod Method { get; }

    /// <summary>The UTF-8 JSON of the data object.</summary>
    public ReadOnlyMemory<byte> Utf8Json => _json;

    public override string ToString() => Encoding.UTF8.GetString(_json);
}

/// <summary>Writes <see cref="CdpCommandData"/> as its prebuilt JSON; reads any object back into one.</summary>
public sealed class CdpCommandDataConverter : JsonConverter<CdpCommandData>
{
    public override CdpCommandData Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using JsonDocument document = JsonDocument.ParseValue(ref reader);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object ||
            !root.TryGetProperty("method", out JsonElement method) || method.ValueKind != JsonValueKind.String ||
            !CdpMethods.TryParse(method.GetString()!, out CdpMethod parsed))
        {
            throw new JsonException("A cdp_command data object must name a reported method.");
        }
        return new CdpCommandData(parsed, Encoding.UTF8.GetBytes(root.GetRawText()));
    }

    public override void Write(Utf8JsonWriter writer, CdpCommandData value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Utf8Json.Span, skipInputValidation: true);
}
