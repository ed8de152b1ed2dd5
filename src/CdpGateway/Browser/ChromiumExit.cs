using System.Text.Json.Serialization;

namespace CdpGateway.Browser;

/// <summary>
/// One Chromium's end: its exit code, or the signal that ended it, how long it ran and why.
/// <see cref="Signal"/> is derived from .NET's exit code, which reports death by signal N as 128+N; a
/// browser never exits with such a code by itself, so the two are not confused in practice.
/// <see cref="Reason"/> says why the gateway ended it when that is not in <see cref="Cause"/> (a browser
/// that never announced its DevTools URL); null otherwise.
/// </summary>
public sealed record ChromiumExit(
    [property: JsonPropertyName("pid")] int Pid,
    [property: JsonPropertyName("generation")] long Generation,
    [property: JsonPropertyName("exit_code"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] int? ExitCode,
    [property: JsonPropertyName("signal"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Signal,
    [property: JsonPropertyName("uptime_ms")] long UptimeMs,
    [property: JsonPropertyName("cause")] string Cause,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("reason")] string? Reason = null)
{
    /// <summary>Splits .NET's exit code into a real exit code or a signal name.</summary>
    public static (int? ExitCode, string? Signal) Describe(int dotnetExitCode) =>
        dotnetExitCode is > 128 and <= 128 + 64
            ? (null, Posix.SignalName(dotnetExitCode - 128))
            : (dotnetExitCode, null);
}
