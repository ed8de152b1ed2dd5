using System.Globalization;
using System.Text;

namespace CdpGateway.Hosting;

/// <summary>
/// Reads options from arguments (<c>--name value</c> or <c>--name=value</c>) over CDPGW_* environment
/// variables over defaults. Unknown options and bad values are errors that name the option.
/// </summary>
public static class CommandLine
{
    private sealed record OptionSpec(string Name, string? Value, string Help, Action<GatewayOptions, string> Apply);

    private static readonly OptionSpec[] Specs =
    [
        new("bind", "ADDR", "address both ports listen on (default 127.0.0.1)", (o, v) => o.Bind = v),
        new("cdp-port", "N", "DevTools proxy port clients connect to (default 9222)", (o, v) => o.CdpPort = Port("cdp-port", v)),
        new("api-port", "N", "control API, telemetry, health, /metrics and dashboard port (default 10001)", (o, v) => o.ApiPort = Port("api-port", v)),
        new("chromium", "PATH", "Chromium executable to launch (default: chromium on PATH)", (o, v) => o.Chromium = v),
        new("chromium-flags", "\"...\"", "extra flags for Chromium, space separated", (o, v) => o.ChromiumFlags = v),
        new("headful", null, "run Chromium with a window instead of headless", (o, v) => o.Headful = Bool("headful", v)),
        new("chromium-log", "FILE", "attach mode: launch nothing, follow FILE for the DevTools line", (o, v) => o.ChromiumLog = v),
        new("restart-command", "CMD", "attach mode: shell command that restarts Chromium", (o, v) => o.RestartCommand = v),
        new("data-dir", "DIR", "Chromium profile, crash reports and persisted state (default ~/.local/share/cdp-gateway)", (o, v) => o.DataDir = v),
        new("events-file", "FILE", "append every telemetry envelope to FILE as one JSON line", (o, v) => o.EventsFile = v),
        new("restart-confirm-wait", "DURATION", "how long an upstream loss waits for a new DevTools URL (default 10s)", (o, v) => o.RestartConfirmWait = Duration("restart-confirm-wait", v)),
        new("max-message-bytes", "N", "largest WebSocket message relayed either way (default 104857600)", (o, v) => o.MaxMessageBytes = Positive("max-message-bytes", v)),
        new("max-connections", "N", "concurrent client connections before HTTP 429 (default 10000)", (o, v) => o.MaxConnections = (int)Positive("max-connections", v)),
        new("token", "TOKEN", "require Authorization: Bearer TOKEN or ?token=TOKEN", (o, v) => o.Token = v),
        new("allowed-origins", "LIST", "comma-separated Origins allowed to open WebSockets (* for any; default none)", (o, v) => o.AllowedOrigins = v),
        new("allow-unauthenticated", null, "allow a non-loopback --bind without --token", (o, v) => o.AllowUnauthenticated = Bool("allow-unauthenticated", v)),
        new("trust-forwarded-headers", null, "build discovery URLs from X-Forwarded-Host and -Proto", (o, v) => o.TrustForwardedHeaders = Bool("trust-forwarded-headers", v)),
        new("log-cdp-messages", null, "log method, id, sessionId and length of every CDP message", (o, v) => o.LogCdpMessages = Bool("log-cdp-messages", v)),
        new("log-level", "LEVEL", "debug, info, warning or error (default info)", (o, v) => o.LogLevel = v),
    ];

    public static string Usage()
    {
        var text = new StringBuilder();
        text.AppendLine("Usage: ./run [options]");
        text.AppendLine();
        text.AppendLine("CDP Gateway: a stable Chrome DevTools Protocol endpoint in front of one supervised Chromium.");
        text.AppendLine("Every option can also be set as CDPGW_<NAME> (upper case, dashes as underscores).");
        text.AppendLine("CDPGW_EPOLL_RELAY=0 (environment only) relays on the runtime's sockets instead of the gateway's epoll loops.");
        text.AppendLine();
        text.AppendLine("Options:");
        foreach (var spec in Specs)
        {
            var left = spec.Value is null ? $"--{spec.Name}" : $"--{spec.Name} {spec.Value}";
            text.AppendLine(CultureInfo.InvariantCulture, $"  {left,-32} {spec.Help}");
        }
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"--help",-32} show this text");
        return text.ToString();
    }

    /// <summary>Parses; throws <see cref="OptionException"/> naming the bad option.</summary>
    public static GatewayOptions Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var options = new GatewayOptions();
        foreach (var spec in Specs)
        {
            var env = environment("CDPGW_" + spec.Name.ToUpperInvariant().Replace('-', '_'));
            if (!string.IsNullOrEmpty(env))
            {
                spec.Apply(options, env);
            }
        }

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new OptionException($"unexpected argument '{arg}'");
            }
            var name = arg[2..];
            string? value = null;
            var eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            var spec = Array.Find(Specs, s => s.Name == name)
                ?? throw new OptionException($"unknown option '--{name}'");
            if (value is null)
            {
                if (spec.Value is null)
                {
                    value = "true";
                }
                else if (i + 1 < args.Count)
                {
                    value = args[++i];
                }
                else
                {
                    throw new OptionException($"option '--{name}' needs a value ({spec.Value})");
                }
            }
            spec.Apply(options, value);
        }
        return options;
    }

    private static int Port(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new OptionException($"--{name}: '{value}' is not a port number (0 to 65535)");

    private static long Positive(string name, string value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new OptionException($"--{name}: '{value}' is not a positive whole number");

    private static bool Bool(string name, string value) => value.ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw new OptionException($"--{name}: '{value}' is not true or false"),
    };

    /// <summary>Accepts 250ms, 10s, 2m, or a bare number of seconds.</summary>
    internal static TimeSpan Duration(string name, string value)
    {
        var v = value.Trim();
        (string number, double scale) = v switch
        {
            _ when v.EndsWith("ms", StringComparison.Ordinal) => (v[..^2], 1.0),
            _ when v.EndsWith('s') => (v[..^1], 1000.0),
            _ when v.EndsWith('m') => (v[..^1], 60_000.0),
            _ => (v, 1000.0),
        };
        return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0 && double.IsFinite(n)
            ? TimeSpan.FromMilliseconds(n * scale)
            : throw new OptionException($"--{name}: '{value}' is not a duration (like 250ms, 10s or 2m)");
    }
}

public sealed class OptionException(string message) : Exception(message);
