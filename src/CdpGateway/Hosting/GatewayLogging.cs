using CdpGateway.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace CdpGateway.Hosting;

/// <summary>
/// The gateway's own log on standard output (<c>--log-format</c>, <c>--log-level</c>): single lines of text that start
/// with the UTC date and time, or one JSON object per line (<see cref="JsonLineFormatter"/>) for a log shipper.
/// </summary>
public static class GatewayLogging
{
    /// <summary>ISO 8601 in UTC with milliseconds, as both formats write it (<c>2026-12-07T10:21:33.123Z</c>).</summary>
    public const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    public static void Configure(ILoggingBuilder logging, GatewayOptions options, GatewayInstance instance)
    {
        if (CommandLine.ParseLogFormat(options.LogFormat))
        {
            logging.AddConsole(o => o.FormatterName = JsonLineFormatter.FormatterName);
            logging.AddConsoleFormatter<JsonLineFormatter, JsonLineFormatterOptions>(o =>
            {
                o.Instance = instance.Id;
                o.IncludeScopes = true;
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = TimestampFormat + " ";
            });
        }
        logging.SetMinimumLevel(CommandLine.ParseLogLevel(options.LogLevel));
        logging.AddFilter("Microsoft", LogLevel.Warning);
    }
}
