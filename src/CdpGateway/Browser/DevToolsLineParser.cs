using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace CdpGateway.Browser;

/// <summary>Finds Chromium's <c>DevTools listening on ws://...</c> announcement in one line of output.</summary>
public static partial class DevToolsLineParser
{
    [GeneratedRegex(@"DevTools listening on (ws://\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>Returns true and the announced URL when <paramref name="line"/> holds the DevTools line.</summary>
    public static bool TryParse(ReadOnlySpan<char> line, [NotNullWhen(true)] out string? url)
    {
        url = null;
        if (line.IndexOf("DevTools listening on ", StringComparison.Ordinal) < 0)
        {
            return false;
        }
        foreach (var match in Pattern().EnumerateMatches(line))
        {
            url = line.Slice(match.Index + "DevTools listening on ".Length, match.Length - "DevTools listening on ".Length).ToString();
            return true;
        }
        return false;
    }

    public static bool TryParse(string? line, [NotNullWhen(true)] out string? url)
    {
        url = null;
        return line is not null && TryParse(line.AsSpan(), out url);
    }
}
