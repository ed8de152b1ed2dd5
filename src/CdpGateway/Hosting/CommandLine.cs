using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;

namespace CdpGateway.Hosting;

/// <summary>
/// The gateway's command line, parsed by System.CommandLine: one option per setting, each falling back to its CDPGW_*
/// environment variable (arguments win), then to the default. Every bad value is an error naming the option, and the
/// variable when the value came from one.
/// </summary>
public static class CommandLine
{
    /// <summary>Shortest token accepted on a non-loopback bind: a guessable token there is no token.</summary>
    public const int MinNetworkTokenLength = 16;

    /// <summary>Parses and validates; throws <see cref="OptionException"/> with the first problem.</summary>
    public static GatewayOptions Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null) => Bind(Read(args, environment));

    /// <summary>The parse: its <see cref="ParseResult.Action"/> is <c>--help</c> or <c>--version</c>, else <see cref="Bind"/> reads it.</summary>
    internal static ParseResult Read(IReadOnlyList<string> args, Func<string, string?>? environment = null) =>
        new GatewayCommand(environment ?? Environment.GetEnvironmentVariable).Parse(args, GatewayCommand.Parser);

    /// <summary>The options a parse found, validated; throws <see cref="OptionException"/> with its first error.</summary>
    internal static GatewayOptions Bind(ParseResult result) => ((GatewayCommand)result.RootCommandResult.Command).Bind(result);

    /// <summary>The help text <c>--help</c> prints.</summary>
    public static string Usage()
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        Read(["--help"], _ => null).Invoke(new InvocationConfiguration { Output = output });
        return output.ToString();
    }

    /// <summary>Checks what no single value shows: the combinations, and the values the gateway reads later.</summary>
    public static void Validate(GatewayOptions options)
    {
        var bind = ParseBind(options.Bind);
        ParseLogLevel(options.LogLevel);
        ParseLogFormat(options.LogFormat);
        ParseOtlpProtocol(options.OtlpProtocol);
        if (options.OtlpEndpoint is { Length: > 0 } otlp)
        {
            ParseOtlpEndpoint(otlp);
        }
        if (options.CdpPort != 0 && options.CdpPort == options.ApiPort)
        {
            throw new OptionException($"--cdp-port and --api-port are both {options.CdpPort}: the two ports must differ");
        }
        ValidateNats(options);
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

    /// <summary>The NATS options fit together: credentials of one kind, files that exist, nothing without --nats-url.</summary>
    private static void ValidateNats(GatewayOptions options)
    {
        var given = new[] { ("--nats-token", options.NatsToken), ("--nats-user", options.NatsUser), ("--nats-password", options.NatsPassword),
            ("--nats-creds", options.NatsCreds), ("--nats-ca", options.NatsCa) }.Where(o => !string.IsNullOrEmpty(o.Item2)).Select(o => o.Item1).ToList();
        if (string.IsNullOrEmpty(options.NatsUrl))
        {
            if (given.Count > 0)
            {
                throw new OptionException($"{given[0]} needs --nats-url");
            }
            return;
        }
        bool user = !string.IsNullOrEmpty(options.NatsUser);
        if (user != !string.IsNullOrEmpty(options.NatsPassword))
        {
            throw new OptionException(user ? "--nats-user needs --nats-password" : "--nats-password needs --nats-user");
        }
        var kinds = new[] { ("--nats-token", !string.IsNullOrEmpty(options.NatsToken)), ("--nats-user", user), ("--nats-creds", !string.IsNullOrEmpty(options.NatsCreds)) }
            .Where(k => k.Item2).Select(k => k.Item1).ToList();
        if (kinds.Count > 1)
        {
            throw new OptionException($"{kinds[0]} and {kinds[1]} are two ways to authenticate to NATS: give one");
        }
        foreach (var (name, file) in new[] { ("--nats-creds", options.NatsCreds), ("--nats-ca", options.NatsCa) })
        {
            if (!string.IsNullOrEmpty(file) && !File.Exists(file))
            {
                throw new OptionException($"{name}: '{file}' does not exist or is not a file");
            }
        }
    }

    /// <summary>The address both ports listen on: an IP literal or <c>localhost</c>.</summary>
    public static System.Net.IPAddress ParseBind(string bind) => ParseBind("--bind", bind);

    private static System.Net.IPAddress ParseBind(string at, string bind) =>
        bind == "localhost" ? System.Net.IPAddress.Loopback
        : System.Net.IPAddress.TryParse(bind, out var address) ? address
        : throw new OptionException($"{at}: '{bind}' is not an IP address (like 127.0.0.1, 0.0.0.0 or ::1) or localhost");

    public static Microsoft.Extensions.Logging.LogLevel ParseLogLevel(string level) => ParseLogLevel("--log-level", level);

    private static Microsoft.Extensions.Logging.LogLevel ParseLogLevel(string at, string level) => level.ToLowerInvariant() switch
    {
        "debug" => Microsoft.Extensions.Logging.LogLevel.Debug,
        "trace" => Microsoft.Extensions.Logging.LogLevel.Trace,
        "info" or "information" => Microsoft.Extensions.Logging.LogLevel.Information,
        "warn" or "warning" => Microsoft.Extensions.Logging.LogLevel.Warning,
        "error" => Microsoft.Extensions.Logging.LogLevel.Error,
        _ => throw new OptionException($"{at}: '{level}' is not one of debug, info, warning, error"),
    };

    /// <summary>The OTLP collector's base URL: absolute, http or https, with a host, no query or fragment.</summary>
    public static Uri ParseOtlpEndpoint(string endpoint) => ParseOtlpEndpoint("--otlp-endpoint", endpoint);

    private static Uri ParseOtlpEndpoint(string at, string endpoint) =>
        Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0
            && uri.Query.Length == 0 && uri.Fragment.Length == 0 && uri.UserInfo.Length == 0
            ? uri
            : throw new OptionException($"{at}: '{endpoint}' is not an http:// or https:// URL of an OTLP collector (like http://127.0.0.1:4318)");

    public static OpenTelemetry.Exporter.OtlpExportProtocol ParseOtlpProtocol(string protocol) => ParseOtlpProtocol("--otlp-protocol", protocol);

    private static OpenTelemetry.Exporter.OtlpExportProtocol ParseOtlpProtocol(string at, string protocol) => protocol.ToLowerInvariant() switch
    {
        "http" or "http/protobuf" => OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf,
        "grpc" => OpenTelemetry.Exporter.OtlpExportProtocol.Grpc,
        _ => throw new OptionException($"{at}: '{protocol}' is not one of http, grpc"),
    };

    /// <summary>Whether log entries are written as JSON lines (else plain single lines).</summary>
    public static bool ParseLogFormat(string format) => ParseLogFormat("--log-format", format);

    private static bool ParseLogFormat(string at, string format) => format.ToLowerInvariant() switch
    {
        "plain" => false,
        "json" => true,
        _ => throw new OptionException($"{at}: '{format}' is not one of plain, json"),
    };

    /// <summary>A duration as <see cref="Duration"/> reads it back: whole seconds as <c>30s</c>, anything finer in milliseconds.</summary>
    internal static string FormatDuration(TimeSpan duration) =>
        duration.Ticks % TimeSpan.TicksPerSecond == 0
            ? ((long)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s"
            : duration.TotalMilliseconds.ToString(CultureInfo.InvariantCulture) + "ms";

    /// <summary>Accepts 250ms, 10s, 2m, or a bare number of seconds.</summary>
    internal static TimeSpan Duration(string at, string value)
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
            : throw new OptionException($"{at}: '{value}' is not a duration (like 250ms, 10s or 2m)");
    }

    /// <summary>An octal mode such as 0600 or 640, owner-readable and with no execute, setuid or sticky bits.</summary>
    private static UnixFileMode FileMode(string at, string value)
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
            : throw new OptionException($"{at}: '{value}' is not an octal file mode the owner can read, without execute bits (like 0600 or 0640)");
    }

    /// <summary>One or more nats:// or tls:// URLs with a host; no credentials in them (they would reach logs and /health).</summary>
    private static string NatsUrl(string at, string value)
    {
        foreach (var part in value.Split(','))
        {
            var url = part.Trim();
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("nats" or "tls") || uri.Host.Length == 0
                || uri.AbsolutePath is not ("" or "/") || uri.Query.Length > 0)
            {
                throw new OptionException($"{at}: '{url}' is not a NATS server URL (like nats://127.0.0.1:4222 or tls://nats.example:4222)");
            }
            if (uri.UserInfo.Length > 0)
            {
                throw new OptionException($"{at}: the URL carries credentials; give them with --nats-user and --nats-password, or --nats-token");
            }
        }
        return value;
    }

    private static string NatsSubjectPrefix(string at, string value) => Telemetry.Nats.NatsNaming.IsValidSubjectPrefix(value)
        ? value
        : throw new OptionException($"{at}: '{value}' is not a subject prefix ({Telemetry.Nats.NatsNaming.PrefixRule})");

    private static string NatsStream(string at, string value) => Telemetry.Nats.NatsNaming.IsValidStreamName(value)
        ? value
        : throw new OptionException($"{at}: '{value}' is not a JetStream stream name ({Telemetry.Nats.NatsNaming.StreamRule})");

    private static string InstanceId(string at, string value) => Telemetry.GatewayInstance.IsValidId(value)
        ? value
        : throw new OptionException($"{at}: '{value}' is not an instance id ({Telemetry.GatewayInstance.IdRule})");

    /// <summary>A Chromium switch name as the flag policy sees it: <c>--name</c>, lower case, no value.</summary>
    private static string RuntimeFlagName(string at, string value)
    {
        var flag = value.Trim();
        if (!flag.StartsWith("--", StringComparison.Ordinal))
        {
            flag = "--" + flag;
        }
        return flag.Length > 2 && flag.Length <= 256 && !flag.Contains('=') && flag.Skip(2).All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? flag.ToLowerInvariant()
            : throw new OptionException($"{at}: '{value}' is not a Chromium switch name (like --disable-web-security, without a value)");
    }

    private static int Port(string at, string value) => (int)Whole(at, value, 0, 65535, "a port number (0 to 65535)");

    private static long Positive(string at, string value) => Whole(at, value, 1, long.MaxValue, "a positive whole number");

    private static int Count(string at, string value) => (int)Whole(at, value, 0, int.MaxValue, "a whole number (0 or more)");

    private static long Whole(string at, string value, long min, long max, string what) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new OptionException($"{at}: '{value}' is not {what}");

    private static bool Bool(string at, string value) => value.ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw new OptionException($"{at}: '{value}' is not true or false"),
    };

    /// <summary>The command: one option per setting (each with its CDPGW_* variable), help and version.</summary>
    private sealed class GatewayCommand : Command
    {
        /// <summary>No response files: <c>@file</c> is an argument like any other, so an error.</summary>
        public static readonly ParserConfiguration Parser = new() { ResponseFileTokenReplacer = null };

        private readonly Func<string, string?> _environment;

        /// <summary>Per option: its value from the parse, else from its variable, onto the options.</summary>
        private readonly List<Action<ParseResult, GatewayOptions>> _apply = [];

        // A plain command, not a RootCommand: no directive runs (Bind refuses [name]), and the usage names ./run.
        public GatewayCommand(Func<string, string?> environment)
            : base("./run", "CDP Gateway: a stable Chrome DevTools Protocol endpoint in front of one supervised Chromium.\n"
                + "Every option can also be set as CDPGW_<NAME> (upper case, dashes as underscores); arguments win.\n"
                + "CDPGW_EPOLL_RELAY=0 (environment only) relays on the runtime's sockets instead of the gateway's epoll loops.")
        {
            _environment = environment;
            Add("--bind", "ADDR", "address both ports listen on (default 127.0.0.1)", Checked(ParseBind), (o, v) => o.Bind = v);
            Add("--cdp-port", "N", "DevTools proxy port clients connect to (default 9222)", Port, (o, v) => o.CdpPort = v);
            Add("--api-port", "N", "control API, telemetry, health, /metrics and dashboard port (default 10001)", Port, (o, v) => o.ApiPort = v);
            Add("--chromium", "PATH", "Chromium executable to launch (default: chromium on PATH)", (_, v) => v, (o, v) => o.Chromium = v);
            Add("--chromium-flags", "\"...\"", "extra flags for Chromium, space separated", (_, v) => v, (o, v) => o.ChromiumFlags = v);
            Add("--headful", null, "run Chromium with a window instead of headless", Bool, (o, v) => o.Headful = v);
            Add("--unsupervised", null, "launch Chromium where its process group cannot be supervised (not Linux); it may outlive the gateway", Bool, (o, v) => o.Unsupervised = v);
            Add("--chromium-log", "FILE", "attach mode: launch nothing, follow FILE for the DevTools line", (_, v) => v, (o, v) => o.ChromiumLog = v);
            Add("--restart-command", "CMD", "attach mode: shell command that restarts Chromium", (_, v) => v, (o, v) => o.RestartCommand = v);
            Add("--data-dir", "DIR", "Chromium profile, crash reports and persisted state (default ~/.local/share/cdp-gateway)", (_, v) => v, (o, v) => o.DataDir = v);
            Add("--events-file", "FILE", "append every telemetry envelope to FILE as one JSON line", (_, v) => v, (o, v) => o.EventsFile = v);
            Add("--instance-id", "ID", "this gateway's name in every event's source (default: host name and CDP port, like host-9222)", InstanceId, (o, v) => o.InstanceId = v);
            Add("--restart-confirm-wait", "DURATION", "how long an upstream loss waits for a new DevTools URL (default 10s)", Duration, (o, v) => o.RestartConfirmWait = v);
            Add("--idle-timeout", "DURATION", "close a connection with no data message either way for DURATION, with 1001 (default off; 0 is off)", Duration, (o, v) => o.IdleTimeout = v > TimeSpan.Zero ? v : null);
            Add("--max-message-bytes", "N", "largest WebSocket message relayed either way (default 104857600)", Positive, (o, v) => o.MaxMessageBytes = v);
            Add("--max-connections", "N", "concurrent client connections; beyond it upgrades wait in --queue or get HTTP 429 (default 10000)", Positive, (o, v) => o.MaxConnections = (int)Math.Min(v, int.MaxValue));
            Add("--queue", "N", "upgrades beyond --max-connections that wait for a slot in arrival order (default 0: HTTP 429 at once)", Count, (o, v) => o.Queue = v);
            Add("--queue-timeout", "DURATION", "how long a queued upgrade waits for a slot before HTTP 429 (default 30s)", Duration, (o, v) => o.QueueTimeout = v);
            Add("--events-file-mode", "MODE", "octal Unix mode of a new events file (default 0600)", FileMode, (o, v) => o.EventsFileMode = v);
            Add("--nats-url", "URL", "also publish every envelope to NATS JetStream at URL (nats:// or tls://; several comma-separated)", NatsUrl, (o, v) => o.NatsUrl = v);
            Add("--nats-token", "TOKEN", "NATS: authenticate with this token", (_, v) => v, (o, v) => o.NatsToken = v);
            Add("--nats-user", "USER", "NATS: user name (with --nats-password)", (_, v) => v, (o, v) => o.NatsUser = v);
            Add("--nats-password", "PASSWORD", "NATS: password for --nats-user", (_, v) => v, (o, v) => o.NatsPassword = v);
            Add("--nats-creds", "FILE", "NATS: credentials file (JWT and NKey seed)", (_, v) => v, (o, v) => o.NatsCreds = v);
            Add("--nats-ca", "FILE", "NATS: CA certificate(s) to verify the server with; implies TLS", (_, v) => v, (o, v) => o.NatsCa = v);
            Add("--nats-subject-prefix", "PREFIX", "NATS: subjects are PREFIX.INSTANCE.CATEGORY.TYPE (default cdp)", NatsSubjectPrefix, (o, v) => o.NatsSubjectPrefix = v);
            Add("--nats-stream", "NAME", "NATS: the JetStream stream, created for PREFIX.> when missing and allowed (default CDP)", NatsStream, (o, v) => o.NatsStream = v);
            Add("--nats-stream-max-bytes", "N", "NATS: byte limit of a stream the gateway creates (default 1073741824)", Positive, (o, v) => o.NatsStreamMaxBytes = v);
            Add("--nats-spool-bytes", "N", "NATS: on-disk spool under the data dir for events NATS has not taken yet (default 268435456)", Positive, (o, v) => o.NatsSpoolBytes = v);
            Add("--token", "TOKEN", "require Authorization: Bearer TOKEN or ?token=TOKEN on both ports", (_, v) => v, (o, v) => o.Token = v);
            Add("--api-token", "TOKEN", "a separate token for the control endpoints (restart, flags, telemetry config)", (_, v) => v, (o, v) => o.ApiToken = v);
            Add("--allowed-hosts", "LIST", "comma-separated Host names accepted besides IP literals and localhost (* for any)", (_, v) => v, (o, v) => o.AllowedHosts = v);
            Add("--allowed-origins", "LIST", "comma-separated Origins allowed to call either port from a web page (* for any; default none)", (_, v) => v, (o, v) => o.AllowedOrigins = v);
            Add<List<string>>("--allow-runtime-flag", "NAME", "let the API set this Chromium flag although the flag policy refuses it (repeatable; in the environment comma-separated)",
                (at, values) => [.. values.Select(v => RuntimeFlagName(at, v))], (o, v) => o.AllowRuntimeFlags.AddRange(v), split: true);
            Add("--allow-unauthenticated", null, "allow a non-loopback --bind without --token", Bool, (o, v) => o.AllowUnauthenticated = v);
            Add("--trust-forwarded-headers", null, "build discovery URLs from X-Forwarded-Host and -Proto", Bool, (o, v) => o.TrustForwardedHeaders = v);
            Add("--log-cdp-messages", null, "log method, id, sessionId and length of every CDP message", Bool, (o, v) => o.LogCdpMessages = v);
            Add("--live-view", null, "let the dashboard watch a page live (screencast with the clients' input drawn over it); shows page content", Bool, (o, v) => o.LiveView = v);
            Add("--log-level", "LEVEL", "debug, info, warning or error (default info)", Checked(ParseLogLevel), (o, v) => o.LogLevel = v);
            Add("--otlp-endpoint", "URL", "export spans and metrics over OTLP to this collector (http:// or https://; default none)", Checked(ParseOtlpEndpoint), (o, v) => o.OtlpEndpoint = v);
            Add("--otlp-protocol", "PROTOCOL", "http (http/protobuf, paths /v1/traces and /v1/metrics under the endpoint) or grpc (default http)", Checked(ParseOtlpProtocol), (o, v) => o.OtlpProtocol = v);
            Add("--log-format", "FORMAT", "plain (one line of text per entry) or json (one JSON object per line) (default plain)", Checked(ParseLogFormat), (o, v) => o.LogFormat = v);

            // --help and -h as before (not the library's -? and /?); --version prints the gateway's own line wherever it stands.
            Options.Add(new HelpOption("--help", "-h") { Description = "show this text" });
            Options.Add(new Option<bool>("--version")
            {
                Description = "print the version and the commit it was built from",
                Arity = ArgumentArity.Zero,
                Action = new VersionAction(),
            });
        }

        /// <summary>The options the parse found, else its first problem, else what <see cref="Validate"/> finds.</summary>
        public GatewayOptions Bind(ParseResult result)
        {
            // A leading [name] is a directive to the tokenizer even without a RootCommand to run it: here it is a stray argument.
            var problem = result.Errors.Select(e => e.Message)
                .Concat(result.Tokens.Where(t => t.Type == TokenType.Directive).Select(t => $"Unrecognized command or argument '{t.Value}'.")).FirstOrDefault();
            var options = problem is null ? new GatewayOptions() : throw new OptionException(problem);
            _apply.ForEach(apply => apply(result, options));
            Validate(options);
            return options;
        }

        /// <summary>The value as given, once <paramref name="check"/> has read it.</summary>
        private static Func<string, string, string> Checked<T>(Func<string, string, T> check) => (at, value) => check(at, value) is T ? value : value;

        /// <summary>An option taking one value (<c>--name value</c> or <c>--name=value</c>; given again, the last one wins).</summary>
        private void Add<T>(string name, string? helpName, string description, Func<string, string, T> convert, Action<GatewayOptions, T> set) =>
            Add(name, helpName, description, (at, values) => convert(at, values[^1]), set, split: false);

        /// <summary>
        /// An option taking one value per occurrence; <paramref name="read"/> gets them all in order, and its first argument names where
        /// they came from, for its message. A switch (<paramref name="helpName"/> null) takes none (read as <c>true</c>) or
        /// <c>=true</c>/<c>=false</c>. Not given, its CDPGW_* variable counts (empty is unset; with <paramref name="split"/>
        /// comma-separated), else the options keep their default.
        /// </summary>
        private void Add<T>(string name, string? helpName, string description, Func<string, string[], T> read, Action<GatewayOptions, T> set, bool split)
        {
            var variable = "CDPGW_" + name[2..].ToUpperInvariant().Replace('-', '_');
            var option = new Option<T>(name)
            {
                Description = description,
                HelpName = helpName,
                Arity = helpName is null ? ArgumentArity.ZeroOrOne : ArgumentArity.OneOrMore,
                AllowMultipleArgumentsPerToken = false,
                CustomParser = r =>
                {
                    try
                    {
                        return read(name, r.Tokens.Count == 0 ? ["true"] : [.. r.Tokens.Select(t => t.Value)]);
                    }
                    catch (OptionException ex)
                    {
                        r.AddError(ex.Message);
                        return default;
                    }
                },
            };
            Options.Add(option);
            _apply.Add((result, options) =>
            {
                if (result.GetResult(option) is { Implicit: false })
                {
                    set(options, result.GetValue(option)!);
                }
                else if (_environment(variable) is { Length: > 0 } value)
                {
                    set(options, read($"{variable} ({name})", split ? value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [value]));
                }
            });
        }

        private sealed class VersionAction : SynchronousCommandLineAction
        {
            /// <summary>Asked for anywhere on the line, the version is printed whatever else is wrong with it.</summary>
            public override bool ClearsParseErrors => true;

            public override int Invoke(ParseResult parseResult)
            {
                parseResult.InvocationConfiguration.Output.WriteLine(GatewayVersion.Line());
                return 0;
            }
        }
    }
}

public sealed class OptionException(string message) : Exception(message);
