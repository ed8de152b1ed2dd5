using System.Diagnostics;

namespace CdpGateway.Tests.Support;

/// <summary>Prometheus's own checker (Debian's <c>prometheus</c> package; <c>.ci/run</c> installs it): <c>promtool check metrics</c>.</summary>
public static class Promtool
{
    /// <summary>promtool's answer: 0 clean, 3 lint problems only (one per line), anything else a format error.</summary>
    public sealed record Verdict(int ExitCode, IReadOnlyList<string> Problems);

    /// <summary>
    /// Asserts that promtool finds <paramref name="exposition"/> strict: exit 0 (clean) or 3 (lint problems only), and no
    /// lint problem in the gateway's own families; what may be left is the runtime's and the process's own names.
    /// </summary>
    public static async Task AssertStrictAsync(string exposition)
    {
        var verdict = await CheckMetricsAsync(exposition);
        Assert.True(verdict.ExitCode is 0 or 3, $"promtool exit {verdict.ExitCode}: {string.Join("\n", verdict.Problems)}\n{exposition}");
        Assert.All(verdict.Problems, problem => Assert.Matches("^(dotnet|process)_", problem));
    }

    /// <summary>Feeds <paramref name="exposition"/> on standard input and returns what promtool said.</summary>
    public static async Task<Verdict> CheckMetricsAsync(string exposition)
    {
        var start = new ProcessStartInfo("promtool", "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("promtool did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        var lines = ((await output) + "\n" + (await error)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new Verdict(process.ExitCode, lines);
    }
}
