using System.Text.Json;

namespace CdpGateway.Telemetry.Commands;

/// <summary>
/// Writes a <c>cdp_command</c> payload: <c>method</c>, <c>connection_id</c>, <c>command_id</c> and
/// <c>session_id</c> when sent, then the method's retained arguments, always under
/// <see cref="CdpCommandClassifier.MaxPayloadBytes"/>.
/// </summary>
internal static class CdpCommandPayload
{
    private static readonly JsonEncodedText MethodName = JsonEncodedText.Encode("method");
    private static readonly JsonEncodedText ConnectionIdName = JsonEncodedText.Encode("connection_id");
    private static readonly JsonEncodedText CommandIdName = JsonEncodedText.Encode("command_id");
    private static readonly JsonEncodedText SessionIdName = JsonEncodedText.Encode("session_id");
    private static readonly JsonEncodedText TruncatedName = JsonEncodedText.Encode("truncated");

    /// <param name="parameters">The params object on the document path (no <paramref name="onePass"/>); default when none was sent.</param>
    /// <param name="captured">What <paramref name="onePass"/> captured from <paramref name="frame"/>.</param>
    public static void Build(CdpPayloadWriter payload, CdpMethod method, JsonEncodedText connectionId, long? commandId,
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

        if (payload.WrittenCount < CdpCommandClassifier.MaxPayloadBytes)
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
}
