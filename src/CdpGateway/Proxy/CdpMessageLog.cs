using System.Text;
using System.Text.Json;
using CdpGateway.Telemetry.Commands;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Proxy;

/// <summary>
/// <c>--log-cdp-messages</c>: one log line per relayed message with its direction, method, id,
/// sessionId and length only (never params or results). Off by default: then the relay never calls it.
/// </summary>
public sealed partial class CdpMessageLog(ILogger<CdpMessageLog> logger)
{
    /// <summary>How much of a message's start is scanned for its top-level fields.</summary>
    private const int ScanBytes = 4096;

    /// <summary>The fields a message's first bytes name, read when its first chunk arrives.</summary>
    public readonly record struct Header(string? Method, long? Id, string? SessionId);

    public static Header ReadHeader(ReadOnlySpan<byte> start)
    {
        string? method = null, sessionId = null;
        long? id = null;
        var reader = new Utf8JsonReader(start[..Math.Min(start.Length, ScanBytes)], isFinalBlock: false, state: default);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = JsonStringText.NameEquals(ref reader, "method"u8) ? 1 : JsonStringText.NameEquals(ref reader, "id"u8) ? 2 : JsonStringText.NameEquals(ref reader, "sessionId"u8) ? 3 : 0;
                if (!reader.Read())
                {
                    break;
                }
                switch (name)
                {
                    case 1 when reader.TokenType == JsonTokenType.String:
                        method = Clip(reader.GetString());
                        break;
                    case 2 when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n):
                        id = n;
                        break;
                    case 3 when reader.TokenType == JsonTokenType.String:
                        sessionId = Clip(reader.GetString());
                        break;
                    default:
                        if (!reader.TrySkip())
                        {
                            return new Header(method, id, sessionId);
                        }
                        break;
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not JSON (or cut short), or a method or sessionId escape that is no UTF-16 (a lone surrogate): log what was found.
        }
        return new Header(method, id, sessionId);
    }

    public void Log(string connectionId, string direction, Header header, long length) =>
        Logged(logger, connectionId, direction, header.Method ?? "", header.Id, header.SessionId ?? "", length);

    private static string? Clip(string? value) => value is { Length: > 128 } ? value[..128] : value;

    [LoggerMessage(Level = LogLevel.Information, Message = "cdp {ConnectionId} {Direction} method={Method} id={Id} sessionId={SessionId} length={Length}")]
    private static partial void Logged(ILogger logger, string connectionId, string direction, string method, long? id, string sessionId, long length);
}
