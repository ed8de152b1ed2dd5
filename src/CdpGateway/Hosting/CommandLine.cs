using System.Globalization;
using System.Text;

namespace CdpGateway.Hosting;

/// <summary>
/// Reads options from arguments (<c>--name value</c> or <c>--name=value</c>) over CDPGW_* environment
/// variables over defaults. Unknown options and bad values are errors that name the option.
/// </summary>
public static class CommandLine
{
    /// <param name="Repeatable">Given more than once, every value counts (in the environment: comma-separated).</param>
    private sealed record OptionSpec(string Name, string? Value, string Help, Action<GatewayOptions, string> Apply, bool Repeatable = false);

    /// <summary>Shortest token accepted on a non-loopback bind: a guessable token there is no token.</summary>
    public const int MinNetworkTokenLength = 16;

    private static readonly OptionSpec[] Specs =
    [
        new("bind", "ADDR", "address both ports listen on (default 127.0.0.1)", (o, v) => o.Bind = v),
        new("cdp-port", "N", "DevTools proxy port clients connect to (default 9222)", (o, v) => o.CdpPort = Port("cdp-port", v)),
        new("api-port", "N", "control API, telemetry, health, /metrics and dashboard port (default 10001)", (o, v) => o.ApiPort = Port("api-port", v)),
        new("chromium", "PATH", "Chromium executable to launch (default: chromium on PATH)", (o, v) => o.Chromium = v),
        new("chromium-flags", "\"...\"", "extra flags for Chromium, space separated", (o, v) => o.ChromiumFlags = v),
        new("headful", null, "run Chromium with a window instead of headless", (o, v) => o.Headful = Bool("headful", v)),
        new("unsupervised", null, "launch Chromium where its process group cannot be supervised (not Linux); it may outlive the gateway",
            (o, v) => o.Unsupervised = Bool("unsupervised", v)),
        new("chromium-log", "FILE", "attach mode: launch nothing, follow FILE for the DevTools line", (o, v) => o.ChromiumLog = v),
        new("restart-command", "CMD", "attach mode: shell command that restarts Chromium", (o, v) => o.RestartCommand = v),
        new("data-dir", "DIR", "Chromium profile, crash reports and persisted state (default ~/.local/share/cdp-gateway)", (o, v) => o.DataDir = v),
        new("events-file", "FILE", "append every telemetry envelope to FILE as one JSON line", (o, v) => o.EventsFile = v),
        new("restart-confirm-wait", "DURATION", "how long an upstream loss waits for a new DevTools URL (default 10s)", (o, v) => o.RestartConfirmWait = Duration("restart-confirm-wait", v)),
        new("idle-timeout", "DURATION", "close a connection with no data message either way for DURATION, with 1001 (default off; 0 is off)",
            (o, v) => o.IdleTimeout = Duration("idle-timeout", v) is var d && d > TimeSpan.Zero ? d : null),
        new("max-message-bytes", "N", "largest WebSocket message relayed either way (default 104857600)", (o, v) => o.MaxMessageBytes = Positive("max-message-bytes", v)),
        new("max-connections", "N", "concurrent client connections; beyond it upgrades wait in --queue or get HTTP 429 (default 10000)", (o, v) => o.MaxConnections = (int)Positive("max-connections", v)),
        new("queue", "N", "upgrades beyond --max-connections that wait for a slot in arrival order (default 0: HTTP 429 at once)", (o, v) => o.Queue = Count("queue", v)),
        new("queue-timeout", "DURATION", "how long a queued upgrade waits for a slot before HTTP 429 (default 30s)", (o, v) => o.QueueTimeout = Duration("queue-timeout", v)),
        new("events-file-mode", "MODE", "octal Unix mode of a new events file (default 0600)", (o, v) => o.EventsFileMode = FileMode("events-file-mode", v)),
        new("token", "TOKEN", "require Authorization: Bearer TOKEN or ?token=TOKEN on both ports", (o, v) => o.Token = v),
        new("api-token", "TOKEN", "a separate token for the control endpoints (restart, flags, telemetry config)", (o, v) => o.ApiToken = v),
        new("allowed-hosts", "LIST", "comma-separated Host names accepted besides IP literals and localhost (* for any)", (o, v) => o.AllowedHosts = v),
        new("allowed-origins", "LIST", "comma-separated Origins allowed to call either port from a web page (* for any; default none)", (o, v) => o.AllowedOrigins = v),
        new("allow-runtime-flag", "NAME", "let the API set this Chromium flag although the flag policy refuses it (repeatable)",
            (o, v) => o.AllowRuntimeFlags.Add(RuntimeFlagName("allow-runtime-flag", v)), Repeatable: true),
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
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"--version",-32} print the version and the commit it was built from");
        return text.ToString();
    }

    /// <summary>True when the arguments ask for the version (<c>--version</c>): printed instead of starting, whatever else is given but <c>--help</c>.</summary>
    public static bool AsksForVersion(IReadOnlyList<string> args) => args.Contains("--version");

    /// <summary>Parses; throws <see cref="OptionException"/> naming the bad option.</summary>
    public static GatewayOptions Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var options = new GatewayOptions();
        foreach (var spec in Specs)
        {
            var env = environment("CDPGW_" + spec.Name.ToUpperInvariant().Replace('-', '_'));
            if (string.IsNullOrEmpty(env))
            {
                continue;
            }
            foreach (var value in spec.Repeatable ? env.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [env])
            {
                spec.Apply(options, value);
            }
        }

        var fromArguments = new HashSet<string>(StringComparer.Ordinal);
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
            if (spec.Repeatable && fromArguments.Add(spec.Name))
            {
                // Arguments win over the environment for a repeatable option too: the first one replaces its list.
                options.AllowRuntimeFlags.Clear();
            }
            spec.Apply(options, value);
        }
        Validate(options);
        return options;
    }

    /// <summary>Checks what no single value shows: the combinations, and the values the gateway reads later.</summary>
    public static void Validate(GatewayOptions options)
    {
        var bind = ParseBind(options.Bind);
        ParseLogLevel(options.LogLevel);
        if (options.CdpPort != 0 && options.CdpPort == options.ApiPort)
        {
            throw new OptionException($"--cdp-port and --api-port are both {options.CdpPort}: the two ports must differ");
        }
        if (System.Net.IPAddress.IsLoopback(bind))
        {
            return;
        }
        if (string.IsNullOrEmpty(options.Token) && !options.AllowUnauthenticated)
        {
            throw new OptionException(
                $"--bind {options.Bind} exposes Chromium to the network without a token: pass --token TOKEN, or --allow-unauthenticated if that is really meant");
        }
        foreach (var (name, token) in new[] { ("token", options.Token), ("api-token", options.ApiToken) })
        {
            if (!string.IsNullOrEmpty(token) && token.Length < MinNetworkTokenLength)
            {
                throw new OptionException(
                    $"--{name} is {token.Length} characters; on a non-loopback --bind a token needs at least {MinNetworkTokenLength} (for example: openssl rand -hex 24)");
            }
        }
    }

    /// <summary>The address both ports listen on: an IP literal or <c>localhost</c>.</summary>
    public static System.Net.IPAddress ParseBind(string bind) =>
        bind == "localhost" ? System.Net.IPAddress.Loopback
        : System.Net.IPAddress.TryParse(bind, out var address) ? address
        : throw new OptionException($"--bind: '{bind}' is not an IP address (like 127.0.0.1, 0.0.0.0 or ::1) or localhost");

    public static Microsoft.Extensions.Logging.LogLevel ParseLogLevel(string level) => level.ToLowerInvariant() switch
    {
        "debug" => Microsoft.Extensions.Logging.LogLevel.Debug,
        "trace" => Microsoft.Extensions.Logging.LogLevel.Trace,
        "info" or "information" => Microsoft.Extensions.Logging.LogLevel.Information,
        "warn" or "warning" => Microsoft.Extensions.Logging.LogLevel.Warning,
        "error" => Microsoft.Extensions.Logging.LogLevel.Error,
        _ => throw new OptionException($"--log-level: '{level}' is not one of debug, info, warning, error"),
    };

    /// <summary>An octal mode such as 0600 or 640, owner-readable and with no execute, setuid or sticky bits.</summary>
    private static UnixFileMode FileMode(string name, string value)
    {
        int mode = 0;
        bool octal = value.Length is > 0 and <= 4 && value.All(c => c is >= '0' and <= '7');
        if (octal)
        {
            foreach (var c in value)
            {
                mode = mode * 8 + (c - '0');
            }
        }
        const int anyExecute = 0b001_001_001;
        const int ownerRead = 0b100_000_000;
        return octal && mode <= 0b111_111_111 && (mode & anyExecute) == 0 && (mode & ownerRead) != 0
            ? (UnixFileMode)mode
            : throw new OptionException($"--{name}: '{value}' is not an octal file mode the owner can read, without execute bits (like 0600 or 0640)");
    }

    /// <summary>A Chromium switch name as the flag policy sees it: <c>--name</c>, lower case, no value.</summary>
    private static string RuntimeFlagName(string name, string value)
    {
        var flag = value.Trim();
        if (!flag.StartsWith("--", StringComparison.Ordinal))
        {
            flag = "--" + flag;
        }
        return flag.Length > 2 && flag.Length <= 256 && !flag.Contains('=') && flag.Skip(2).All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? flag.ToLowerInvariant()
            : throw new OptionException($"--{name}: '{value}' is not a Chromium switch name (like --disable-web-security, without a value)");
    }

    private static int Port(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new OptionException($"--{name}: '{value}' is not a port number (0 to 65535)");

    private static long Positive(string name, string value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new OptionException($"--{name}: '{value}' is not a positive whole number");

    private static int Count(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw new OptionException($"--{name}: '{value}' is not a whole number (0 or more)");

    private static bool Bool(string name, string value) => value.ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw new OptionException($"--{name}: '{value}' is not true or false"),
    };

    /// <summary>A duration as <see cref="Duration"/> reads it back: whole seconds as <c>30s</c>, anything finer in milliseconds.</summary>
    internal static string FormatDuration(TimeSpan duration) =>
        duration.Ticks % TimeSpan.TicksPerSecond == 0
            ? ((long)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s"
            : duration.TotalMilliseconds.ToString(CultureInfo.InvariantCulture) + "ms";

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
