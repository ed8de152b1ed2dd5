using System.Text;
using System.Text.Json;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Turns one client-to-browser CDP text frame into the data of a <c>cdp_command</c> event: shape only, never
/// content. Two steps, so that library traffic costs next to nothing:
/// <list type="number">
/// <item><see cref="TryReadMethod"/> (admission, on the forwarding thread): reads only the top-level <c>method</c>,
/// allocates nothing, and says whether it is a reported method.</item>
/// <item><see cref="Classify"/> (off the forwarding path, reported methods only): reads the whole frame and builds the
/// sanitized payload from <see cref="CdpArgumentManifest"/>.</item>
/// </list>
/// </summary>
public static class CdpCommandClassifier
{
    /// <summary>Every payload is smaller than this, whatever the client sends.</summary>
    public const int MaxPayloadBytes = 4096;

    // Deeper than the protocol ever nests, shallow enough to bound work; the reader is iterative either way.
    private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 512 };

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = ReaderOptions.MaxDepth };

    /// <summary>
    /// For tests: true makes every method take the document path, so its payloads can be compared with the one-pass
    /// reader's (<see cref="CdpOnePassParams"/>) on the same frames.
    /// </summary>
    [ThreadStatic] internal static bool UseDocumentPath;

    private static readonly JsonEncodedText MethodName = JsonEncodedText.Encode("method");
    private static readonly JsonEncodedText ConnectionIdName = JsonEncodedText.Encode("connection_id");
    private static readonly JsonEncodedText CommandIdName = JsonEncodedText.Encode("command_id");
    private static readonly JsonEncodedText SessionIdName = JsonEncodedText.Encode("session_id");
    private static readonly JsonEncodedText TruncatedName = JsonEncodedText.Encode("truncated");

    /// <summary>
    /// Admission: true when the frame is a JSON object whose top-level <c>method</c> is a reported method. Escaped
    /// names are decoded (<c>Input.\u0064ispatchMouseEvent</c> counts); a <c>method</c> nested in <c>params</c> does
    /// not. Stops at the top-level <c>method</c>, skipping (not decoding) only the values before it, and allocates
    /// nothing except when the frame is not valid JSON up to that point (the reader's exception).
    /// </summary>
    public static bool TryReadMethod(ReadOnlySpan<byte> frame, out CdpMethod method)
    {
        method = default;

        // What cannot start a JSON object is turned away before the reader, so garbage costs no exception.
        int start = 0;
        while (start < frame.Length && frame[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            start++;
        }
        if (start == frame.Length || frame[start] != (byte)'{')
        {
            return false;
        }

        var reader = new Utf8JsonReader(frame, ReaderOptions);
        try
        {
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isMethod = JsonStringText.NameEquals(ref reader, "method"u8);
                if (!reader.Read())
                {
                    return false;
                }
                if (isMethod)
                {
                    return reader.TokenType == JsonTokenType.String && TryLookup(reader.ValueSpan, out method);
                }
                reader.Skip();
            }
            return false;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reads an admitted frame in full and builds its payload: <c>method</c>, <c>connection_id</c>,
    /// <c>command_id</c> (when sent), <c>session_id</c> (when sent), then the method's retained arguments
    /// (<see cref="CdpArgumentManifest"/>). See <see cref="ClassifyOutcome"/> for what is a loss and what is not.
    /// </summary>
    public static ClassifyResult Classify(ReadOnlySpan<byte> frame, CdpMethod method, string connectionId)
    {
        ArgumentNullException.ThrowIfNull(connectionId);
        CdpPayloadWriter payload = CdpPayloadWriter.Rent();
        try
        {
            ClassifyOutcome outcome = ClassifyInto(frame.ToArray(), method, EncodeConnectionId(connectionId), payload, out string? problem);
            return outcome switch
            {
                ClassifyOutcome.Reported => ClassifyResult.Reported(new CdpCommandData(method, payload.WrittenSpan.ToArray())),
                ClassifyOutcome.Malformed => ClassifyResult.Malformed(problem!),
                _ => ClassifyResult.Ignored(problem!),
            };
        }
        finally
        {
            CdpPayloadWriter.Return(payload);
        }
    }

    /// <summary>
    /// <see cref="Classify"/> without allocating the result: on <see cref="ClassifyOutcome.Reported"/> the payload is
    /// in <paramref name="payload"/> (<see cref="CdpPayloadWriter.WrittenSpan"/>). The frame is read in place (the
    /// params object is indexed straight from it, not copied).
    /// </summary>
    internal static ClassifyOutcome ClassifyInto(ReadOnlyMemory<byte> frame, CdpMethod method, JsonEncodedText connectionId,
        CdpPayloadWriter payload, out string? problem)
    {
        problem = null;
        JsonDocument? parameters = null;
        CdpOnePassParams? onePass = UseDocumentPath ? null : CdpOnePassParams.For(method);
        Span<CdpCapturedArgument> captured = onePass is null ? default : stackalloc CdpCapturedArgument[onePass.Count];
        try
        {
            var reader = new Utf8JsonReader(frame.Span, ReaderOptions);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                problem = "the frame is not a JSON object";
                return ClassifyOutcome.Ignored;
            }

            bool seenId = false, seenMethod = false, seenSession = false, seenParams = false;
            bool methodMatches = false;
            long? commandId = null;
            Span<char> session = stackalloc char[CdpVocabulary.MaxOpaqueIdBytes];
            int sessionLength = -1;
            string? malformed = null;

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (JsonStringText.NameEquals(ref reader, "id"u8))
                {
                    if (!Once(ref seenId))
                    {
                        problem = "duplicate top-level id";
                        return ClassifyOutcome.Ignored;
                    }
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && TryGetInteger(ref reader, out long id))
                    {
                        commandId = id;
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        malformed ??= "id must be an integer";
                        reader.Skip();
                    }
                }
                else if (JsonStringText.NameEquals(ref reader, "method"u8))
                {
                    if (!Once(ref seenMethod))
                    {
                        problem = "duplicate top-level method";
                        return ClassifyOutcome.Ignored;
                    }
                    reader.Read();
                    methodMatches = reader.TokenType == JsonTokenType.String &&
                        TryLookup(reader.ValueSpan, out CdpMethod named) && named == method;
                    reader.Skip();
                }
                else if (JsonStringText.NameEquals(ref reader, "sessionId"u8))
                {
                    if (!Once(ref seenSession))
                    {
                        problem = "duplicate top-level sessionId";
                        return ClassifyOutcome.Ignored;
                    }
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        sessionLength = JsonStringText.ClipInto(reader.ValueSpan, CdpVocabulary.MaxOpaqueIdBytes, session);
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        malformed ??= "sessionId must be a string";
                        reader.Skip();
                    }
                }
                else if (JsonStringText.NameEquals(ref reader, "params"u8))
                {
                    if (!Once(ref seenParams))
                    {
                        problem = "duplicate top-level params";
                        return ClassifyOutcome.Ignored;
                    }
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject && onePass is not null)
                    {
                        onePass.Capture(ref reader, captured);
                    }
                    else if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        // Validated by the skip (with the frame's depth limit), then indexed in place.
                        int start = (int)reader.TokenStartIndex;
                        reader.Skip();
                        parameters = JsonDocument.Parse(frame[start..(int)reader.BytesConsumed], DocumentOptions);
                    }
                    else if (reader.TokenType != JsonTokenType.Null)
                    {
                        malformed ??= "params must be an object";
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Anything after the object (other than whitespace) makes the reader throw: not JSON, not a command.
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                problem = "the frame is not a single JSON object";
                return ClassifyOutcome.Ignored;
            }
            if (!methodMatches)
            {
                problem = $"the top-level method is not {method.Name()}";
                return ClassifyOutcome.Ignored;
            }
            if (malformed is not null)
            {
                problem = malformed;
                return ClassifyOutcome.Malformed;
            }

            BuildPayload(payload, method, connectionId, commandId, sessionLength >= 0, session[..Math.Max(sessionLength, 0)],
                parameters?.RootElement ?? default, onePass, captured, frame.Span);
            return ClassifyOutcome.Reported;
        }
        catch (JsonException)
        {
            problem = "the frame is not valid JSON";
            return ClassifyOutcome.Ignored;
        }
        catch (InvalidOperationException)
        {
            // Only the document path gets here: its property lookups unescape names and throw on a lone surrogate escape.
            problem = "params holds a name that is not valid Unicode (a lone surrogate escape)";
            return ClassifyOutcome.Malformed;
        }
        catch (CdpMalformedCommandException malformedCommand)
        {
            problem = malformedCommand.Message;
            return ClassifyOutcome.Malformed;
        }
        finally
        {
            parameters?.Dispose();
        }
    }

    private static void BuildPayload(CdpPayloadWriter payload, CdpMethod method, JsonEncodedText connectionId, long? commandId,
        bool hasSession, ReadOnlySpan<char> sessionId, JsonElement parameters, CdpOnePassParams? onePass,
        ReadOnlySpan<CdpCapturedArgument> captured, ReadOnlySpan<byte> frame)
    {
        Utf8JsonWriter writer = payload.Start();
        WriteCommon(writer, method, connectionId, commandId, hasSession, sessionId);
        if (onePass is not null)
        {
            onePass.Write(captured, frame, writer);
        }
        else
        {
            foreach (CdpArgument argument in CdpArgumentManifest.ArgumentsOf(method))
            {
                argument.Write(parameters, writer);
            }
        }
        writer.WriteEndObject();
        writer.Flush();

        if (payload.WrittenCount < MaxPayloadBytes)
        {
            return;
        }

        // Unreachable by construction (every string is bounded and arrays are counts: the largest payload is about
        // 3.3 KiB, with four 128-byte ids of escaped control characters); kept so the bound holds even if a future
        // manifest entry breaks that arithmetic. The event still says which command ran.
        writer = payload.Start();
        WriteCommon(writer, method, connectionId, commandId, hasSession, sessionId);
        writer.WriteBoolean(TruncatedName, true);
        writer.WriteEndObject();
        writer.Flush();
    }

    private static void WriteCommon(Utf8JsonWriter writer, CdpMethod method, JsonEncodedText connectionId, long? commandId,
        bool hasSession, ReadOnlySpan<char> sessionId)
    {
        writer.WriteStartObject();
        writer.WriteString(MethodName, method.EncodedName());
        writer.WriteString(ConnectionIdName, connectionId);
        if (commandId is long id)
        {
            writer.WriteNumber(CommandIdName, id);
        }
        if (hasSession)
        {
            writer.WriteString(SessionIdName, sessionId);
        }
    }

    /// <summary>Matches a top-level method string's content (escapes in place) against the reported methods.</summary>
    internal static bool TryLookup(ReadOnlySpan<byte> content, out CdpMethod method)
    {
        if (!content.Contains((byte)'\\'))
        {
            // The usual case: the bytes are the name (an escape-free JSON string is its own UTF-8).
            return CdpMethods.TryParseUtf8(content, out method);
        }
        Span<char> name = stackalloc char[CdpMethods.MaxNameLength];
        if (JsonStringText.TryDecodeShort(content, name, out int length))
        {
            return CdpMethods.TryParse(name[..length], out method);
        }
        method = default;
        return false;
    }

    private static bool TryGetInteger(ref Utf8JsonReader reader, out long value)
    {
        if (reader.TryGetInt64(out value))
        {
            return true;
        }
        if (reader.TryGetDouble(out double number) && double.IsFinite(number) && Math.Floor(number) == number &&
            Math.Abs(number) <= 9007199254740992d)
        {
            value = (long)number;
            return true;
        }
        return false;
    }

    private static bool Once(ref bool seen)
    {
        if (seen)
        {
            return false;
        }
        seen = true;
        return true;
    }

    /// <summary>A connection id as <c>connection_id</c> reports it: clipped like an opaque id, encoded once per connection.</summary>
    internal static JsonEncodedText EncodeConnectionId(string connectionId) => JsonEncodedText.Encode(ClipId(connectionId));

    /// <summary>A string of ours (the connection id) clipped like an opaque id, at a scalar boundary.</summary>
    private static string ClipId(string value)
    {
        if (value.Length <= CdpVocabulary.MaxOpaqueIdBytes / 3 ||
            Encoding.UTF8.GetByteCount(value) <= CdpVocabulary.MaxOpaqueIdBytes)
        {
            return value;
        }
        var clipped = new StringBuilder(CdpVocabulary.MaxOpaqueIdBytes);
        int bytes = 0;
        foreach (Rune rune in value.EnumerateRunes())
        {
            bytes += rune.Utf8SequenceLength;
            if (bytes > CdpVocabulary.MaxOpaqueIdBytes)
            {
                break;
            }
            clipped.Append(rune.ToString());
        }
        return clipped.ToString();
    }
}
