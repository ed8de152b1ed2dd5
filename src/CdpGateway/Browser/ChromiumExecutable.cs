namespace CdpGateway.Browser;

/// <summary>Finds the Chromium executable once at start, so a wrong <c>--chromium</c> fails the gateway instead of every launch.</summary>
internal static class ChromiumExecutable
{
    /// <summary>A path is checked as given, a bare name is looked up in PATH.</summary>
    public static string Resolve(string chromium)
    {
        const string hint = "install Debian's chromium package or pass --chromium PATH";
        if (string.IsNullOrWhiteSpace(chromium))
        {
            throw new FileNotFoundException($"No Chromium executable configured: {hint}");
        }
        if (chromium.Contains('/'))
        {
            var full = Path.GetFullPath(chromium);
            if (!File.Exists(full))
            {
                throw new FileNotFoundException($"Chromium not found at '{chromium}': {hint}", full);
            }
            if (!IsExecutable(full))
            {
                throw new FileNotFoundException($"Chromium at '{chromium}' is not executable: {hint}", full);
            }
            return full;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, chromium);
            if (File.Exists(candidate) && IsExecutable(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"Chromium not found at '{chromium}' (searched PATH): {hint}", chromium);
    }

    private static bool IsExecutable(string path)
    {
        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & anyExecute) != 0;
    }
}
