using System.Text.Json;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// The top-level members of one command frame, each read by its own part: <c>id</c>, <c>method</c>,
/// <c>sessionId</c> and <c>params</c>; every other member is skipped. Chromium rejects a frame that names one of
/// them twice, so such a frame is no command and neither is one whose <c>method</c> is not the admitted one; a
/// member of the wrong type makes a command malformed. Lives on the stack with buffers the caller stack-allocates,
/// so reading allocates nothing on the one-pass path.
/// </summary>
internal ref struct CdpCommandEnvelope
{
    private enum Member
    {
        Id,
        Method,
        SessionId,
        Params,
    }

    // Indexed by Member; the problems are constants so a duplicate costs no formatting.
    private static readonly (byte[] Name, string Duplicate)[] Members =
    [
        ("id"u8.ToArray(), "duplicate top-level id"),
        ("method"u8.ToArray(), "duplicate top-level method"),
        ("sessionId"u8.ToArray(), "duplicate top-level sessionId"),
        ("params"u8.ToArray(), "duplicate top-level params"),
    ];

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = CdpCommandClassifier.ReaderOptions.MaxDepth };

    private readonly ReadOnlyMemory<byte> _frame;
    private readonly CdpMethod _method;
    private readonly CdpOnePassParams? _onePass;
    private readonly Span<CdpCapturedArgument> _captured;
    private readonly Span<char> _session;
    private int _seen;
    private bool _methodMatches;
    private long? _commandId;
    private int _sessionLength;
    private string? _malformed;
    private JsonDocument? _parameters;

    /// <param name="onePass">The method's one-pass reader; null takes the document path (<see cref="CdpArgumentManifest"/>).</param>
    /// <param name="captured">One slot per argument of <paramref name="onePass"/>.</param>
    /// <param name="session">Room for a clipped session id (<see cref="CdpVocabulary.MaxOpaqueIdBytes"/>).</param>
    public CdpCommandEnvelope(ReadOnlyMemory<byte> frame, CdpMethod method, CdpOnePassParams? onePass,
        Span<CdpCapturedArgument> captured, Span<char> session)
    {
        _frame = frame;
        _method = method;
        _onePass = onePass;
        _captured = captured;
        _session = session;
        _sessionLength = -1;
    }

    /// <summary>Reads the whole frame; on <see cref="ClassifyOutcome.Reported"/> the payload can be written.</summary>
    /// <exception cref="JsonException">The frame is not valid JSON.</exception>
    public ClassifyOutcome Read(out string? problem)
    {
        var reader = new Utf8JsonReader(_frame.Span, CdpCommandClassifier.ReaderOptions);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            problem = "the frame is not a JSON object";
            return ClassifyOutcome.Ignored;
        }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (ReadMember(ref reader) is { } duplicate)
            {
                problem = duplicate;
                return ClassifyOutcome.Ignored;
            }
        }

        // Anything after the object (other than whitespace) makes the reader throw: not JSON, not a command.
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            problem = "the frame is not a single JSON object";
            return ClassifyOutcome.Ignored;
        }
        if (!_methodMatches)
        {
            problem = $"the top-level method is not {_method.Name()}";
            return ClassifyOutcome.Ignored;
        }
        problem = _malformed;
        return _malformed is null ? ClassifyOutcome.Reported : ClassifyOutcome.Malformed;
    }

    /// <summary>The payload of a frame <see cref="Read"/> found reported.</summary>
    public readonly void WritePayload(CdpPayloadWriter payload, JsonEncodedText connectionId) =>
        CdpCommandPayload.Build(payload, _method, connectionId, _commandId, _sessionLength >= 0, _session[..Math.Max(_sessionLength, 0)],
            _parameters?.RootElement ?? default, _onePass, _captured, _frame.Span);

    /// <summary>Returns the document path's params to the pool.</summary>
    public readonly void Dispose() => _parameters?.Dispose();

    /// <summary>Reads the member whose name the reader is on, with its value; a duplicate's problem, or null.</summary>
    private string? ReadMember(ref Utf8JsonReader reader)
    {
        if (Identify(ref reader) is not { } member)
        {
            reader.Read();
            reader.Skip();
            return null;
        }
        int bit = 1 << (int)member;
        if ((_seen & bit) != 0)
        {
            return Members[(int)member].Duplicate;
        }
        _seen |= bit;
        reader.Read();
        switch (member)
        {
            case Member.Id:
                ReadId(ref reader);
                break;
            case Member.Method:
                ReadMethod(ref reader);
                break;
            case Member.SessionId:
                ReadSessionId(ref reader);
                break;
            default:
                ReadParams(ref reader);
                break;
        }
        return null;
    }

    private static Member? Identify(ref Utf8JsonReader reader)
    {
        for (int i = 0; i < Members.Length; i++)
        {
            if (JsonStringText.NameEquals(ref reader, Members[i].Name))
            {
                return (Member)i;
            }
        }
        return null;
    }

    private void ReadId(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Number && TryGetInteger(ref reader, out long id))
        {
            _commandId = id;
        }
        else if (reader.TokenType != JsonTokenType.Null)
        {
            _malformed ??= "id must be an integer";
            reader.Skip();
        }
    }

    private void ReadMethod(ref Utf8JsonReader reader)
    {
        _methodMatches = reader.TokenType == JsonTokenType.String &&
            CdpCommandClassifier.TryLookup(reader.ValueSpan, out CdpMethod named) && named == _method;
        reader.Skip();
    }

    private void ReadSessionId(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            _sessionLength = JsonStringText.ClipInto(reader.ValueSpan, CdpVocabulary.MaxOpaqueIdBytes, _session);
        }
        else if (reader.TokenType != JsonTokenType.Null)
        {
            _malformed ??= "sessionId must be a string";
            reader.Skip();
        }
    }

    private void ReadParams(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.StartObject && _onePass is not null)
        {
            _onePass.Capture(ref reader, _captured);
        }
        else if (reader.TokenType == JsonTokenType.StartObject)
        {
            // Validated by the skip (with the frame's depth limit), then indexed in place.
            int start = (int)reader.TokenStartIndex;
            reader.Skip();
            _parameters = JsonDocument.Parse(_frame[start..(int)reader.BytesConsumed], DocumentOptions);
        }
        else if (reader.TokenType != JsonTokenType.Null)
        {
            _malformed ??= "params must be an object";
            reader.Skip();
        }
    }

    /// <summary>An integer, also when written as a float with no fraction (<c>1.0</c>, <c>1e3</c>) within a double's exact range.</summary>
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
}
