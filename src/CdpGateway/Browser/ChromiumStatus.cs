using System.Text.Json.Serialization;

namespace CdpGateway.Browser;

/// <summary>What <c>GET /chromium</c> answers (and <c>/health</c>, in part): a snapshot of the supervised browser.</summary>
public sealed record ChromiumStatus
{
    /// <summary><c>launch</c> (the gateway runs Chromium) or <c>attach</c> (it follows a log).</summary>
    [JsonPropertyName("mode")] public required string Mode { get; init; }

    /// <summary>One of <see cref="ChromiumState"/>.</summary>
    [JsonPropertyName("state")] public required string State { get; init; }

    [JsonPropertyName("pid"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public int? Pid { get; init; }

    [JsonPropertyName("devtools_url"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? DevToolsUrl { get; init; }

    /// <summary>Counts launches (launch mode) or announced DevTools URLs (attach mode), from 1.</summary>
    [JsonPropertyName("generation")] public long Generation { get; init; }

    /// <summary>Starts after the first one, whatever caused them.</summary>
    [JsonPropertyName("restarts")] public long Restarts { get; init; }

    [JsonPropertyName("uptime_ms"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public long? UptimeMs { get; init; }

    /// <summary>Exits in a row that came before a minute of healthy uptime.</summary>
    [JsonPropertyName("consecutive_crashes")] public int ConsecutiveCrashes { get; init; }

    /// <summary>While in backoff or a crash loop: how long until the next start.</summary>
    [JsonPropertyName("next_start_in_ms")] public long? NextStartInMs { get; init; }

    [JsonPropertyName("last_exit"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public ChromiumExit? LastExit { get; init; }

    /// <summary>
    /// The last start that failed before a process existed (the executable vanished, ...); while <c>unreachable</c>, what
    /// the probe of the browser met.
    /// </summary>
    [JsonPropertyName("last_error")] public string? LastError { get; init; }

    /// <summary>Runtime flags (<c>/chromium/flags</c>), persisted in the data dir.</summary>
    [JsonPropertyName("flags")] public required IReadOnlyList<string> Flags { get; init; }

    /// <summary>
    /// Why the persisted runtime flags (<c>DATA_DIR/flags.json</c>) are not in use: unreadable, refused by the flag
    /// policy, or Chromium did not start with them. Null when they are.
    /// </summary>
    [JsonPropertyName("runtime_flags_error")] public string? RuntimeFlagsError { get; init; }

    /// <summary>The executable and its arguments for the next start (launch mode).</summary>
    [JsonPropertyName("command_line")] public IReadOnlyList<string>? CommandLine { get; init; }

    [JsonPropertyName("restart_command")] public string? RestartCommand { get; init; }
}
