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
    internal static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 512 };

    /// <summary>
    /// For tests: true makes every method take the document path, so its payloads can be compared with the one-pass
    /// reader's (<see cref="CdpOnePassParams"/>) on the same frames.
    /// </summary>
    [ThreadStatic] internal static bool UseDocumentPath;

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
        CdpOnePassParams? onePass = UseDocumentPath ? null : CdpOnePassParams.For(method);
        Span<CdpCapturedArgument> captured = onePass is null ? default : stackalloc CdpCapturedArgument[onePass.Count];
        Span<char> session = stackalloc char[CdpVocabulary.MaxOpaqueIdBytes];
        var envelope = new CdpCommandEnvelope(frame, method, onePass, captured, session);
        try
        {
            ClassifyOutcome outcome = envelope.Read(out problem);
            if (outcome == ClassifyOutcome.Reported)
            {
                envelope.WritePayload(payload, connectionId);
            }
            return outcome;
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
            envelope.Dispose();
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

    /// <summary>A connection id as <c>connection_id</c> reports it: clipped like an opaque id, encoded once per connection.</summary>
    internal static JsonEncodedText EncodeConnectionId(string connectionId) => CdpConnectionIdText.Encode(connectionId);
}
