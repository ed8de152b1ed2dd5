using System.Reflection;

namespace CdpGateway.Hosting;

/// <summary>
/// What <c>--version</c> prints: the gateway's version and the commit it was built from
/// (<c>cdp-gateway 0.1.0 (commit abc1234)</c>). The build puts the commit into an
/// <c>AssemblyMetadata("GitCommit", ...)</c> attribute (CdpGateway.csproj), <c>unknown</c> when it had no git checkout.
/// </summary>
public static class GatewayVersion
{
    public const string CommitMetadataKey = "GitCommit";

    /// <summary>The line for this gateway's own assembly.</summary>
    public static string Line() => Line(typeof(GatewayVersion).Assembly);

    /// <summary>This gateway's version (<c>0.1.0</c>), without the SDK's source revision.</summary>
    public static string Version { get; } = VersionOf(typeof(GatewayVersion).Assembly);

    /// <summary>The short commit hash this gateway was built from, or <c>unknown</c>.</summary>
    public static string Commit { get; } = CommitOf(typeof(GatewayVersion).Assembly);

    private static string VersionOf(Assembly assembly)
    {
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        var plus = informational.IndexOf('+', StringComparison.Ordinal);
        return plus >= 0 ? informational[..plus] : informational;
    }

    private static string CommitOf(Assembly assembly) =>
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == CommitMetadataKey)?.Value is { } commit
            && !string.IsNullOrWhiteSpace(commit) ? commit.Trim() : "unknown";

    internal static string Line(Assembly assembly) => Line(
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == CommitMetadataKey)?.Value);

    /// <param name="informationalVersion">As the build wrote it; anything from a <c>+</c> on (the SDK's source revision) is left out.</param>
    /// <param name="commit">The short commit hash, or nothing when the build did not know it.</param>
    internal static string Line(string informationalVersion, string? commit)
    {
        var plus = informationalVersion.IndexOf('+', StringComparison.Ordinal);
        var version = plus >= 0 ? informationalVersion[..plus] : informationalVersion;
        return $"cdp-gateway {version} (commit {(string.IsNullOrWhiteSpace(commit) ? "unknown" : commit.Trim())})";
    }
}
