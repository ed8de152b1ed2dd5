using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace CdpGateway.Hosting;

/// <summary>
/// <c>--log-format json</c>: one JSON object per line with <c>timestamp</c> (ISO 8601, UTC, milliseconds),
/// <c>level</c>, <c>category</c>, <c>event_id</c>, <c>message</c>, <c>exception</c> when there is one,
/// <c>instance</c> on every line and <c>connection_id</c> on every line logged for a connection. The runtime's JSON
/// console formatter names its fields in its own way and has nowhere to put a value every line carries, hence this one.
/// </summary>
public sealed class JsonLineFormatter : ConsoleFormatter, IDisposable
{
    public const string FormatterName = "cdp-json";

    /// <summary>The structured value that names a connection in the gateway's own messages (<c>{ConnectionId}</c>).</summary>
    private const string ConnectionIdProperty = "ConnectionId";

    /// <summary>Quotes, backslashes and control characters escaped; other text (quotes in messages, non-ASCII) kept readable.</summary>
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IDisposable? _reload;
    private JsonLineFormatterOptions _options;

    public JsonLineFormatter(IOptionsMonitor<JsonLineFormatterOptions> options)
        : base(FormatterName)
    {
        _options = options.CurrentValue;
        _reload = options.OnChange(o => _options = o);
    }

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (logEntry.Exception is null && message is null)
        {
            return;
        }
        var options = _options;
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("timestamp", DateTimeOffset.UtcNow.UtcDateTime.ToString(GatewayLogging.TimestampFormat, System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("level", LevelName(logEntry.LogLevel));
            json.WriteString("category", logEntry.Category);
            json.WriteNumber("event_id", logEntry.EventId.Id);
            if (logEntry.EventId.Name is { Length: > 0 } eventName)
            {
                json.WriteString("event_name", eventName);
            }
            json.WriteString("message", message ?? "");
            if (logEntry.Exception is { } exception)
            {
                json.WriteString("exception", exception.ToString());
            }
            json.WriteString("instance", options.Instance);
            var connectionId = ConnectionIdOf(logEntry.State);
            if (options.IncludeScopes && scopeProvider is not null)
            {
                scopeProvider.ForEachScope((scope, _) =>
                {
                    if (scope is ConnectionLogScope connection)
                    {
                        connectionId ??= connection.ConnectionId;
                    }
                }, (object?)null);
            }
            if (connectionId is not null)
            {
                json.WriteString("connection_id", connectionId);
            }
            json.WriteEndObject();
        }
        textWriter.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
        textWriter.Write('\n');
    }

    /// <summary>The connection a message names itself (<c>{ConnectionId}</c>), also where no scope reaches (the relay's loop threads).</summary>
    private static string? ConnectionIdOf<TState>(TState state)
    {
        if (state is IReadOnlyList<KeyValuePair<string, object?>> values)
        {
            for (var i = 0; i < values.Count; i++)
            {
                if (values[i].Key == ConnectionIdProperty)
                {
                    return values[i].Value?.ToString();
                }
            }
        }
        return null;
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        LogLevel.Critical => "critical",
        _ => "none",
    };

    public void Dispose() => _reload?.Dispose();
}
