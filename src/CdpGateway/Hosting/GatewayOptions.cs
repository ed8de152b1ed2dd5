namespace CdpGateway.Hosting;

/// <summary>Everything the operator can set, from the command line or CDPGW_* environment variables.</summary>
public sealed class GatewayOptions
{
    public string Bind { get; set; } = "127.0.0.1";
    public int CdpPort { get; set; } = 9222;
    public int ApiPort { get; set; } = 10001;
    public string Chromium { get; set; } = "chromium";
    public string ChromiumFlags { get; set; } = "";
    public bool Headful { get; set; }

    /// <summary>Launch Chromium even where its process group cannot be supervised (see <see cref="LaunchSupervision"/>).</summary>
    public bool Unsupervised { get; set; }
    public string? ChromiumLog { get; set; }
    public string? RestartCommand { get; set; }
    public string DataDir { get; set; } = DefaultDataDir();
    public string? EventsFile { get; set; }

    /// <summary>This gateway's name in a fleet (envelope source, NATS subjects, metric labels); null: host name and CDP port.</summary>
    public string? InstanceId { get; set; }
    public TimeSpan RestartConfirmWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection with no data message either way for this long is closed; null: never.</summary>
    public TimeSpan? IdleTimeout { get; set; }
    public long MaxMessageBytes { get; set; } = 100L * 1024 * 1024;
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>Upgrades beyond <see cref="MaxConnections"/> that may wait for a slot; 0 refuses them at once.</summary>
    public int Queue { get; set; }

    public TimeSpan QueueTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public string? Token { get; set; }

    /// <summary>A second token for the control endpoints; when unset, <see cref="Token"/> covers them.</summary>
    public string? ApiToken { get; set; }

    public string? AllowedOrigins { get; set; }

    /// <summary>Host names (beyond IP literals and localhost) a request's Host may name; <c>*</c> for any.</summary>
    public string? AllowedHosts { get; set; }

    /// <summary>Runtime-flag names the operator lets the API set although the flag policy refuses them.</summary>
    public List<string> AllowRuntimeFlags { get; } = [];

    /// <summary>Unix mode of a newly created events file (0600 unless the operator ships it elsewhere).</summary>
    public UnixFileMode EventsFileMode { get; set; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>NATS server URL(s), comma-separated; set, every envelope is also published to JetStream.</summary>
    public string? NatsUrl { get; set; }
    public string? NatsToken { get; set; }
    public string? NatsUser { get; set; }
    public string? NatsPassword { get; set; }
    public string? NatsCreds { get; set; }
    public string? NatsCa { get; set; }
    public string NatsSubjectPrefix { get; set; } = Telemetry.Nats.NatsSinkOptions.DefaultSubjectPrefix;
    public string NatsStream { get; set; } = Telemetry.Nats.NatsSinkOptions.DefaultStreamName;
    public long NatsStreamMaxBytes { get; set; } = Telemetry.Nats.NatsSinkOptions.DefaultStreamMaxBytes;
    public long NatsSpoolBytes { get; set; } = Telemetry.Nats.NatsSinkOptions.DefaultSpoolBytes;

    public bool LogCdpMessages { get; set; }

    /// <summary>
    /// The API's live view of a page (<c>/live</c>): off unless asked for, because it shows what the pages show.
    /// </summary>
    public bool LiveView { get; set; }

    public bool AllowUnauthenticated { get; set; }
    public bool TrustForwardedHeaders { get; set; }
    public string LogLevel { get; set; } = "info";

    /// <summary>OTLP collector to export spans and metrics to (<c>--otlp-endpoint</c>); null: no export.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>http</c> (http/protobuf) or <c>grpc</c>.</summary>
    public string OtlpProtocol { get; set; } = "http";

    /// <summary><c>plain</c> (one line of text per entry) or <c>json</c> (one JSON object per line).</summary>
    public string LogFormat { get; set; } = "plain";

    /// <summary>How long the dial keeps trying for a browser before it gives up.</summary>
    public TimeSpan DialRetryWindow { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long shutdown waits for clients to finish their close handshake. With the wait for pending
    /// disconnects and Chromium's stop grace it keeps a whole shutdown inside 10 s.
    /// </summary>
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(4);

    public bool AttachMode => !string.IsNullOrEmpty(ChromiumLog);

    private static string DefaultDataDir()
    {
        var home = Environment.GetEnvironmentVariable("HOME");
        return string.IsNullOrEmpty(home)
            ? Path.Combine(Path.GetTempPath(), "cdp-gateway")
            : Path.Combine(home, ".local", "share", "cdp-gateway");
    }
}
