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
}

/// <summary>A finished restart (<c>POST /chromium/restart</c>, a flag change).</summary>
public sealed record RestartAnswer
{
    [JsonPropertyName("devtools_url")] public required string DevToolsUrl { get; init; }
    [JsonPropertyName("generation")] public long Generation { get; init; }
    [JsonPropertyName("elapsed_ms")] public double ElapsedMs { get; init; }
    [JsonPropertyName("restarted")] public bool Restarted { get; init; }
    [JsonPropertyName("flags")] public IReadOnlyList<string>? Flags { get; init; }
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
