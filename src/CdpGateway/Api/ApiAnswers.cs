using System.Text.Json.Serialization;
using CdpGateway.Browser;

namespace CdpGateway.Api;

/// <summary><c>GET /health</c>: <c>ready</c>, or the Chromium state and its last exit.</summary>
public sealed record HealthStatus
{
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("devtools_url")] public string? DevToolsUrl { get; init; }
    [JsonPropertyName("generation")] public long? Generation { get; init; }
    [JsonPropertyName("last_exit")] public ChromiumExit? LastExit { get; init; }
    [JsonPropertyName("next_start_in_ms")] public long? NextStartInMs { get; init; }
    [JsonPropertyName("error")] public string? Error { get; init; }
    [JsonPropertyName("runtime_flags_error")] public string? RuntimeFlagsError { get; init; }
    [JsonPropertyName("connections")] public ConnectionCounts? Connections { get; init; }

    /// <summary>The NATS sink, when on. It never makes the gateway unhealthy: health is about the browser.</summary>
    [JsonPropertyName("nats")] public NatsHealth? Nats { get; init; }
}

/// <summary>The NATS sink in <c>/health</c>: connected, events held in memory and on disk, the last error.</summary>
public sealed record NatsHealth(
    [property: JsonPropertyName("connected")] bool Connected,
    [property: JsonPropertyName("pending")] long Pending,
    [property: JsonPropertyName("spooled_bytes")] long SpooledBytes,
    [property: JsonPropertyName("last_error")] string? LastError)
{
    public static NatsHealth? From(Telemetry.Nats.NatsEventSink? sink) => sink?.Status() is { } s
        ? new NatsHealth(s.Connected, s.Pending, s.SpooledBytes, s.LastError)
        : null;
}

/// <summary>Client connections open now, and upgrades waiting in the queue for a slot.</summary>
public sealed record ConnectionCounts(
    [property: JsonPropertyName("open")] int Open,
    [property: JsonPropertyName("queued")] int Queued);

/// <summary>A finished restart (<c>POST /chromium/restart</c>, a flag change).</summary>
public sealed record RestartAnswer
{
    [JsonPropertyName("devtools_url")] public required string DevToolsUrl { get; init; }
    [JsonPropertyName("generation")] public long Generation { get; init; }
    [JsonPropertyName("elapsed_ms")] public double ElapsedMs { get; init; }
    [JsonPropertyName("restarted")] public bool Restarted { get; init; }
    [JsonPropertyName("flags")] public IReadOnlyList<string>? Flags { get; init; }
    [JsonPropertyName("phases")] public RestartPhasesAnswer? Phases { get; init; }
}

/// <summary>
/// Where a restart's time went (launch mode): Chromium's own phases, and <c>gateway_ms</c>, the rest of
/// <c>elapsed_ms</c>, split into the gateway's steps between them. All in milliseconds on the gateway's clock.
/// </summary>
public sealed record RestartPhasesAnswer
{
    /// <summary>Stop signal sent until no process of the old browser's group was left (null: none was running).</summary>
    [JsonPropertyName("stop_ms")] public double? StopMs { get; init; }
    [JsonPropertyName("launch_to_devtools_ms")] public double LaunchToDevToolsMs { get; init; }
    [JsonPropertyName("devtools_to_ready_ms")] public double DevToolsToReadyMs { get; init; }
    [JsonPropertyName("gateway_ms")] public double GatewayMs { get; init; }
    [JsonPropertyName("request_to_stop_ms")] public double? RequestToStopMs { get; init; }
    [JsonPropertyName("stopped_to_launch_ms")] public double? StoppedToLaunchMs { get; init; }
    [JsonPropertyName("ready_to_answer_ms")] public double ReadyToAnswerMs { get; init; }

    public static RestartPhasesAnswer? From(RestartPhases? phases) => phases is null ? null : new RestartPhasesAnswer
    {
        StopMs = Ms(phases.Stop),
        LaunchToDevToolsMs = Ms(phases.LaunchToDevTools),
        DevToolsToReadyMs = Ms(phases.DevToolsToReady),
        GatewayMs = Ms(phases.Gateway),
        RequestToStopMs = Ms(phases.RequestToStop),
        StoppedToLaunchMs = Ms(phases.StoppedToLaunch),
        ReadyToAnswerMs = Ms(phases.ReadyToAnswer),
    };

    private static double Ms(TimeSpan span) => Math.Round(span.TotalMilliseconds, 1);

    private static double? Ms(TimeSpan? span) => span is { } s ? Ms(s) : null;
}

/// <summary><c>GET /chromium/flags</c>.</summary>
public sealed record FlagsAnswer
{
    [JsonPropertyName("flags")] public required IReadOnlyList<string> Flags { get; init; }
    [JsonPropertyName("command_line")] public IReadOnlyList<string>? CommandLine { get; init; }
}

/// <summary>Every error answer: a message, and the Chromium state when that explains it (504).</summary>
public sealed record ApiError
{
    [JsonPropertyName("error")] public required string Error { get; init; }
    [JsonPropertyName("chromium")] public ChromiumStatus? Chromium { get; init; }
}
