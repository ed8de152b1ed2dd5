using CdpGateway.Hosting;

namespace CdpGateway.Telemetry.Nats;

/// <summary>The NATS sink's settings: where to connect, how to authenticate, what to name, how much to keep on disk.</summary>
public sealed record NatsSinkOptions
{
    public const string DefaultSubjectPrefix = "cdp";
    public const string DefaultStreamName = "CDP";
    public const long DefaultStreamMaxBytes = 1L << 30;
    public const long DefaultSpoolBytes = 256L * 1024 * 1024;

    /// <summary>The spool's directory under the data dir.</summary>
    public const string SpoolDirectoryName = "nats-spool";

    /// <summary>One or more server URLs, comma-separated (<c>nats://host:4222</c>, <c>tls://host:4222</c>).</summary>
    public required string Url { get; init; }
    public string? Token { get; init; }
    public string? User { get; init; }
    public string? Password { get; init; }
    public string? CredsFile { get; init; }
    public string? CaFile { get; init; }
    public string SubjectPrefix { get; init; } = DefaultSubjectPrefix;
    public string StreamName { get; init; } = DefaultStreamName;
    public long StreamMaxBytes { get; init; } = DefaultStreamMaxBytes;
    public long SpoolBytes { get; init; } = DefaultSpoolBytes;

    /// <summary>The spool's directory: <c>DATA_DIR/nats-spool</c>.</summary>
    public required string SpoolDirectory { get; init; }

    /// <summary>How long one publish may wait for JetStream's ack before it counts as failed and is retried.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Longest pause between reconnect attempts (and between retries of a failing publish).</summary>
    public TimeSpan ReconnectWaitMax { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long shutdown keeps publishing before it spools the rest to disk.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long JetStream remembers a message id to drop a resent copy.</summary>
    public TimeSpan DuplicateWindow { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Whether the connection uses TLS: a <c>tls://</c> URL or a CA file says so.</summary>
    public bool UsesTls => CaFile is { Length: > 0 } || Url.Split(',').Any(u => u.Trim().StartsWith("tls://", StringComparison.OrdinalIgnoreCase));

    /// <summary>The sink's settings from the gateway's options, or null when <c>--nats-url</c> is not given.</summary>
    public static NatsSinkOptions? From(GatewayOptions options) => options.NatsUrl is not { Length: > 0 } url ? null : new NatsSinkOptions
    {
        Url = url,
        Token = options.NatsToken,
        User = options.NatsUser,
        Password = options.NatsPassword,
        CredsFile = options.NatsCreds,
        CaFile = options.NatsCa,
        SubjectPrefix = options.NatsSubjectPrefix,
        StreamName = options.NatsStream,
        StreamMaxBytes = options.NatsStreamMaxBytes,
        SpoolBytes = options.NatsSpoolBytes,
        SpoolDirectory = Path.Combine(Path.GetFullPath(options.DataDir), SpoolDirectoryName),
    };
}
