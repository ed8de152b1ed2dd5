using System.Runtime.InteropServices;
using System.Text.Json;

namespace CdpGateway.Telemetry.Commands;

/// <summary>The JSON type an argument has on the wire (per the protocol definition).</summary>
public enum CdpArgumentKind
{
    String,
    Number,
    Integer,
    Boolean,
    StringArray,
    ObjectArray,
}

/// <summary>How an argument is reported in the <c>cdp_command</c> payload, or that it is not.</summary>
public enum CdpArgumentTreatment
{
    /// <summary>Never decoded, never reported.</summary>
    Redacted,
    /// <summary>A finite number, as sent (non-finite numbers are left out).</summary>
    Number,
    /// <summary>An integer, as sent.</summary>
    Integer,
    Boolean,
    /// <summary>One of a closed set of values (<see cref="CdpArgument.Values"/>), else <c>other</c>.</summary>
    Enum,
    /// <summary>The string's length in UTF-16 code units; never its content.</summary>
    Length,
    /// <summary><c>true</c> when a non-empty string was sent, else <c>false</c>; always reported.</summary>
    Presence,
    /// <summary>The array's element count; never its elements.</summary>
    Count,
    /// <summary>An opaque identifier, clipped to 128 bytes of UTF-8.</summary>
    OpaqueId,
    /// <summary>The URL's scheme from a short list (else <c>other</c>); nothing for a relative URL; never host or path.</summary>
    UrlScheme,
    /// <summary>The key's name when it is on the named-key allowlist; nothing otherwise (a printable key is text).</summary>
    NamedKey,
    /// <summary>The distinct top-level MIME types of every element, sorted (<c>image/png</c> → <c>image</c>).</summary>
    MimeCategories,
}

/// <summary>
/// One argument of a reported method and the decision about it: retained (with the payload field it becomes and
/// how it is reduced) or redacted (with why). <see cref="Path"/> names nested arguments with dots; <c>[0]</c> means
/// the array's first element, <c>[]</c> every element.
/// </summary>
public sealed record CdpArgument
{
    private readonly Segment[] _segments;

    // The field's name, encoded once: the payload writer would otherwise transcode and check it on every command.
    private readonly JsonEncodedText _name;

    internal CdpArgument(string path, CdpArgumentKind kind, CdpArgumentTreatment treatment, string? field,
        CdpEnumSet? values = null, string? redactedBecause = null)
    {
        Path = path;
        Kind = kind;
        Treatment = treatment;
        Field = field;
        Values = values;
        RedactedBecause = redactedBecause;
        _segments = Parse(path);
        _name = JsonEncodedText.Encode(field ?? "");
    }

    public CdpMethod Method { get; init; }

    public string Path { get; }

    public CdpArgumentKind Kind { get; }

    public CdpArgumentTreatment Treatment { get; }

    public bool Retained => Treatment != CdpArgumentTreatment.Redacted;

    /// <summary>The payload field it is reported as; null when redacted.</summary>
    public string? Field { get; }

    /// <summary>The closed set for <see cref="CdpArgumentTreatment.Enum"/>.</summary>
    public CdpEnumSet? Values { get; }

    public string? RedactedBecause { get; }

    /// <summary>Writes this argument's field (if any) from <paramref name="parameters"/>.</summary>
    /// <exception cref="CdpMalformedCommandException">The argument has the wrong JSON type.</exception>
    internal void Write(JsonElement parameters, Utf8JsonWriter writer)
    {
        switch (Treatment)
        {
            case CdpArgumentTreatment.Redacted:
                return;
            case CdpArgumentTreatment.Presence:
                {
                    bool present = TryResolve(parameters, out JsonElement value) && Content(value).Length > 0;
                    writer.WriteBoolean(_name, present);
                    return;
                }
            case CdpArgumentTreatment.MimeCategories:
                WriteMimeCategories(parameters, writer);
                return;
        }

        if (!TryResolve(parameters, out JsonElement element))
        {
            return;
        }

        switch (Treatment)
        {
            case CdpArgumentTreatment.Number:
                if (element.ValueKind != JsonValueKind.Number)
                {
                    throw Malformed("a number");
                }
                if (element.TryGetDouble(out double number) && double.IsFinite(number))
                {
                    writer.WriteNumber(_name, number);
                }
                return;
            case CdpArgumentTreatment.Integer:
                writer.WriteNumber(_name, ReadInteger(element));
                return;
            case CdpArgumentTreatment.Boolean:
                writer.WriteBoolean(_name, element.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw Malformed("a boolean"),
                });
                return;
            case CdpArgumentTreatment.Count:
                if (element.ValueKind != JsonValueKind.Array)
                {
                    throw Malformed("an array");
                }
                writer.WriteNumber(_name, element.GetArrayLength());
                return;
            default:
                WriteString(Content(element), writer);
                return;
        }
    }

    /// <summary>The treatments of a string argument, from its content (between the quotes, escapes in place).</summary>
    private void WriteString(ReadOnlySpan<byte> content, Utf8JsonWriter writer)
    {
        switch (Treatment)
        {
            case CdpArgumentTreatment.Enum:
                writer.WriteString(_name, Values!.FindJsonOrOther(content));
                return;
            case CdpArgumentTreatment.Length:
                writer.WriteNumber(_name, JsonStringText.Utf16Length(content));
                return;
            case CdpArgumentTreatment.OpaqueId:
                {
                    Span<char> id = stackalloc char[CdpVocabulary.MaxOpaqueIdBytes];
                    int length = JsonStringText.ClipInto(content, CdpVocabulary.MaxOpaqueIdBytes, id);
                    writer.WriteString(_name, id[..length]);
                    return;
                }
            case CdpArgumentTreatment.UrlScheme:
                if (CdpVocabulary.UrlScheme(content) is { } scheme)
                {
                    writer.WriteString(_name, scheme);
                }
                return;
            case CdpArgumentTreatment.NamedKey:
                {
                    JsonEncodedText key = CdpVocabulary.NamedKeys.FindJson(content, out bool named);
                    if (named)
                    {
                        writer.WriteString(_name, key);
                    }
                }
                return;
            default:
                throw new InvalidOperationException($"Unhandled treatment {Treatment}.");
        }
    }

    /// <summary>
    /// True when this argument can be read in one forward pass over the params object: a single plain key (no nested
    /// path, no array step). Redacted arguments always qualify, as they are never read.
    /// </summary>
    internal bool IsTopLevel => !Retained || (_segments.Length == 1 && _segments[0].Mode == ArrayMode.None &&
        Treatment != CdpArgumentTreatment.MimeCategories);

    /// <summary>The key of a <see cref="IsTopLevel"/> argument, in UTF-8.</summary>
    internal byte[] KeyUtf8 => System.Text.Encoding.UTF8.GetBytes(_segments[0].Name);

    /// <summary>
    /// One-pass reading: takes the value the reader is on (just after this argument's key) into
    /// <paramref name="captured"/>, reduced as <see cref="Write(JsonElement, Utf8JsonWriter)"/> would reduce it, and leaves
    /// the reader on the value's last token. Throws only <see cref="JsonException"/> (the frame is not JSON).
    /// </summary>
    internal void Capture(ref Utf8JsonReader reader, ref CdpCapturedArgument captured)
    {
        JsonTokenType token = reader.TokenType;
        captured = default;
        if (token == JsonTokenType.Null)
        {
            return;
        }
        switch (Treatment)
        {
            case CdpArgumentTreatment.Number:
                if (token != JsonTokenType.Number)
                {
                    break;
                }
                if (!reader.HasValueSequence && PlainDecimal.TryGetCanonicalLength(reader.ValueSpan, out int canonical))
                {
                    // Most coordinates: the token's own digits are what the writer would print, so no parse and format.
                    captured.State = CdpCaptureState.Value;
                    captured.NumberIsText = true;
                    captured.Start = checked((int)reader.TokenStartIndex);
                    captured.Length = canonical;
                    return;
                }
                if (reader.TryGetDouble(out double number) && double.IsFinite(number))
                {
                    captured.State = CdpCaptureState.Value;
                    captured.Number = number;
                }
                return;
            case CdpArgumentTreatment.Integer:
                if (token == JsonTokenType.Number && TryReadInteger(ref reader, out long integer))
                {
                    captured.State = CdpCaptureState.Value;
                    captured.Integer = integer;
                    return;
                }
                break;
            case CdpArgumentTreatment.Boolean:
                if (token is JsonTokenType.True or JsonTokenType.False)
                {
                    captured.State = CdpCaptureState.Value;
                    captured.Boolean = token == JsonTokenType.True;
                    return;
                }
                break;
            case CdpArgumentTreatment.Count:
                if (token == JsonTokenType.StartArray)
                {
                    int count = 0;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        count++;
                        reader.Skip();
                    }
                    captured.State = CdpCaptureState.Value;
                    captured.Length = count;
                    return;
                }
                break;
            default:
                if (token == JsonTokenType.String)
                {
                    // The content between the quotes, escapes in place, as the document path reads it.
                    captured.State = CdpCaptureState.Value;
                    captured.Start = checked((int)reader.TokenStartIndex + 1);
                    captured.Length = reader.ValueSpan.Length;
                    return;
                }
                break;
        }
        captured.State = CdpCaptureState.Malformed;
        captured.Expected = Treatment switch
        {
            CdpArgumentTreatment.Number => CdpExpectedKind.Number,
            CdpArgumentTreatment.Integer => CdpExpectedKind.Integer,
            CdpArgumentTreatment.Boolean => CdpExpectedKind.Boolean,
            CdpArgumentTreatment.Count => CdpExpectedKind.Array,
            _ => CdpExpectedKind.String,
        };
        reader.Skip();
    }

    /// <summary>Writes the field of a value taken by <see cref="Capture"/> (nothing when absent).</summary>
    /// <exception cref="CdpMalformedCommandException">The argument had the wrong JSON type.</exception>
    internal void WriteCaptured(in CdpCapturedArgument captured, ReadOnlySpan<byte> frame, Utf8JsonWriter writer)
    {
        if (captured.State == CdpCaptureState.Malformed)
        {
            throw Malformed(captured.Expected switch
            {
                CdpExpectedKind.Number => "a number",
                CdpExpectedKind.Integer => "an integer",
                CdpExpectedKind.Boolean => "a boolean",
                CdpExpectedKind.Array => "an array",
                _ => "a string",
            });
        }
        if (Treatment == CdpArgumentTreatment.Presence)
        {
            writer.WriteBoolean(_name, captured.State == CdpCaptureState.Value && captured.Length > 0);
            return;
        }
        if (captured.State != CdpCaptureState.Value)
        {
            return;
        }
        ReadOnlySpan<byte> content = frame.Slice(captured.Start, captured.Length);
        switch (Treatment)
        {
            case CdpArgumentTreatment.Number when captured.NumberIsText:
                writer.WritePropertyName(_name);
                writer.WriteRawValue(content, skipInputValidation: true);
                return;
            case CdpArgumentTreatment.Number:
                writer.WriteNumber(_name, captured.Number);
                return;
            case CdpArgumentTreatment.Integer:
                writer.WriteNumber(_name, captured.Integer);
                return;
            case CdpArgumentTreatment.Boolean:
                writer.WriteBoolean(_name, captured.Boolean);
                return;
            case CdpArgumentTreatment.Count:
                writer.WriteNumber(_name, captured.Length);
                return;
            default:
                WriteString(content, writer);
                return;
        }
    }

    private void WriteMimeCategories(JsonElement parameters, Utf8JsonWriter writer)
    {
        // "a.items[].mimeType": resolve up to the array, then read the leaf of every element.
        int all = Array.FindIndex(_segments, s => s.Mode == ArrayMode.All);
        if (!TryResolve(parameters, _segments.AsSpan(0, all + 1), out JsonElement array))
        {
            return;
        }
        string leaf = _segments[all + 1].Name;
        var categories = new SortedSet<string>(StringComparer.Ordinal);
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw Malformed("an array of objects");
            }
            if (item.TryGetProperty(leaf, out JsonElement mime) && mime.ValueKind != JsonValueKind.Null)
            {
                categories.Add(CdpVocabulary.MimeCategory(Content(mime)));
            }
        }
        writer.WriteStartArray(_name);
        foreach (string category in categories)
        {
            writer.WriteStringValue(category);
        }
        writer.WriteEndArray();
    }

    private bool TryResolve(JsonElement parameters, out JsonElement value) => TryResolve(parameters, _segments, out value);

    /// <summary>
    /// Walks <paramref name="segments"/> from the params object. False when any step is absent or null; throws when a
    /// container has the wrong type (a string where an object is expected). <see cref="ArrayMode.All"/> yields the
    /// array itself.
    /// </summary>
    private bool TryResolve(JsonElement current, ReadOnlySpan<Segment> segments, out JsonElement value)
    {
        value = default;
        foreach (Segment segment in segments)
        {
            if (current.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
            {
                return false;
            }
            if (current.ValueKind != JsonValueKind.Object)
            {
                throw Malformed("inside an object");
            }
            if (!current.TryGetProperty(segment.Name, out JsonElement next) || next.ValueKind == JsonValueKind.Null)
            {
                return false;
            }
            if (segment.Mode != ArrayMode.None && next.ValueKind != JsonValueKind.Array)
            {
                throw Malformed("inside an array");
            }
            if (segment.Mode == ArrayMode.First)
            {
                if (next.GetArrayLength() == 0)
                {
                    return false;
                }
                next = next[0];
            }
            current = next;
        }
        value = current;
        return current.ValueKind != JsonValueKind.Null;
    }

    private long ReadInteger(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Number)
        {
            throw Malformed("an integer");
        }
        if (element.TryGetInt64(out long integer))
        {
            return integer;
        }
        return element.TryGetDouble(out double number) && IntegralDouble(number) ? (long)number : throw Malformed("an integer");
    }

    private static bool TryReadInteger(ref Utf8JsonReader reader, out long value)
    {
        if (reader.TryGetInt64(out value))
        {
            return true;
        }
        if (reader.TryGetDouble(out double number) && IntegralDouble(number))
        {
            value = (long)number;
            return true;
        }
        return false;
    }

    // 3.0 or 1e3 is an integer to Chromium's parser too; 1.5 or 1e300 is not.
    private static bool IntegralDouble(double number) =>
        double.IsFinite(number) && Math.Floor(number) == number && Math.Abs(number) <= 9007199254740992d;

    /// <summary>The content of a JSON string (between its quotes, escapes in place); throws when it is not one.</summary>
    private ReadOnlySpan<byte> Content(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.String)
        {
            throw Malformed("a string");
        }
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(element);
        return raw[1..^1];
    }

    private CdpMalformedCommandException Malformed(string expected) => new($"params.{Path} must be {expected}");

    private enum ArrayMode
    {
        None,
        First,
        All,
    }

    private readonly record struct Segment(string Name, ArrayMode Mode);

    private static Segment[] Parse(string path) =>
        path.Split('.').Select(part =>
            part.EndsWith("[0]", StringComparison.Ordinal) ? new Segment(part[..^3], ArrayMode.First)
            : part.EndsWith("[]", StringComparison.Ordinal) ? new Segment(part[..^2], ArrayMode.All)
            : new Segment(part, ArrayMode.None)).ToArray();
}

/// <summary>A reported command whose arguments have the wrong shape; a loss, counted as <c>telemetry_dropped</c>.</summary>
internal sealed class CdpMalformedCommandException(string message) : Exception(message);
