using System.Text.Json.Serialization;

namespace CdpGateway.Telemetry;

public static class ChromiumEventTypes
{
    public const string Started = "chromium_started";
    public const string Ready = "chromium_ready";
    public const string Exited = "chromium_exited";
    public const string Unreachable = "chromium_unreachable";
    public const string Reachable = "chromium_reachable";
}

/// <summary>
/// Data of <c>chromium_unreachable</c> (system): the ready browser stopped answering <c>Browser.getVersion</c> on its
/// DevTools URL although no exit was seen (attach mode: stopped where it is supervised; launch mode: hung).
/// <c>error</c> is what the probe met.
/// </summary>
public sealed record ChromiumUnreachableData(
    [property: JsonPropertyName("devtools_url")] string DevToolsUrl,
    [property: JsonPropertyName("generation")] long Generation,
    [property: JsonPropertyName("error")] string Error);

/// <summary>
/// Data of <c>chromium_reachable</c> (system): after <c>chromium_unreachable</c>, a browser answers again: the same one,
/// or a newer generation that announced itself and answered.
/// </summary>
public sealed record ChromiumReachableData(
    [property: JsonPropertyName("devtools_url")] string DevToolsUrl,
    [property: JsonPropertyName("generation")] long Generation);

/// <summary>
/// Data of <c>chromium_started</c> (system): published when the browser announces its DevTools URL.
/// <c>startup_ms</c> is launch to that announcement. In attach mode the gateway launches nothing, so
/// <c>pid</c> and <c>startup_ms</c> are null.
/// </summary>
public sealed record ChromiumStartedData(
    [property: JsonPropertyName("pid"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] int? Pid,
    [property: JsonPropertyName("generation")] long Generation,
    [property: JsonPropertyName("devtools_url")] string DevToolsUrl,
    [property: JsonPropertyName("startup_ms"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] double? StartupMs);

/// <summary>
/// Data of <c>chromium_ready</c> (system): a generation answered <c>Browser.getVersion</c> for the first time, once per
/// generation. <c>ready_ms</c> is its <c>chromium_started</c> (the DevTools URL announced) to that answer; in launch
/// mode it is the restart phase <c>devtools_to_ready</c>, and <c>startup_ms + ready_ms</c> is launch to ready.
/// In attach mode <c>pid</c> is null.
/// </summary>
public sealed record ChromiumReadyData(
    [property: JsonPropertyName("pid"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] int? Pid,
    [property: JsonPropertyName("generation")] long Generation,
    [property: JsonPropertyName("devtools_url")] string DevToolsUrl,
    [property: JsonPropertyName("ready_ms")] double ReadyMs)
{
    public static ChromiumReadyData Of(int? pid, long generation, string devToolsUrl, TimeSpan announcedToReady) =>
        new(pid, generation, devToolsUrl, Math.Round(announcedToReady.TotalMilliseconds, 3));
}

/// <summary>
/// Data of <c>chromium_exited</c> (system). Exactly one of <c>exit_code</c> and <c>signal</c> is set.
/// <c>cause</c>: <c>crash</c> (it ended by itself), <c>restart</c> (the gateway restarted it on request),
/// <c>shutdown</c>. After a crash, <c>backoff_ms</c> is the wait before the next start and
/// <c>crash_loop</c> says whether it keeps dying young.
/// </summary>
public sealed record ChromiumExitedData
{
    [JsonPropertyName("pid")] public required int Pid { get; init; }
    [JsonPropertyName("generation")] public required long Generation { get; init; }
    [JsonPropertyName("exit_code"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public int? ExitCode { get; init; }
    [JsonPropertyName("signal"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? Signal { get; init; }
    [JsonPropertyName("uptime_ms")] public required double UptimeMs { get; init; }
    [JsonPropertyName("cause")] public required string Cause { get; init; }
    [JsonPropertyName("backoff_ms")] public double? BackoffMs { get; init; }
    [JsonPropertyName("crash_loop")] public bool? CrashLoop { get; init; }
}
