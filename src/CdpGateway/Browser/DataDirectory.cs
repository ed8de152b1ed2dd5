using System.Collections.Concurrent;
using CdpGateway.Hosting;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// Makes the data dir's parts that hold Chromium's files private before each launch: the data dir itself
/// when it is the gateway's own, and always the profile and Chromium's config dir (see <see cref="PrivateDirectory"/>).
/// </summary>
/// <remarks>
/// The data dir is named by the operator and may be a directory shared with other things (a home directory, or
/// even <c>/tmp</c>, which taken to 0700 would break every other user of the machine). So it is created 0700 when
/// missing, but an existing one is tightened only while it holds nothing but what the gateway itself puts there:
/// then it can only be the gateway's (made by an older version, or empty for it by the operator). A shared one
/// keeps its mode; Chromium's files stay out of reach all the same, because the profile and config directories
/// inside it are always the gateway's and always made private, whatever the data dir's mode.
/// </remarks>
public static class DataDirectory
{
    private static readonly ConcurrentDictionary<string, bool> ReportedShared = new(StringComparer.Ordinal);

    /// <summary>Creates or tightens the data dir (when it is the gateway's), the profile and Chromium's config dir.</summary>
    /// <exception cref="InvalidOperationException">One of them cannot be created or made private.</exception>
    public static void Prepare(GatewayOptions options, ILogger logger)
    {
        try
        {
            PrepareDirectories(options, logger);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not launching at all beats launching a browser whose port any local user can read.
            throw new InvalidOperationException($"the data dir {options.DataDir} cannot be made private: {e.Message}", e);
        }
    }

    private static void PrepareDirectories(GatewayOptions options, ILogger logger)
    {
        var dataDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.DataDir));
        if (!Directory.Exists(dataDir) || HoldsOnlyGatewayEntries(dataDir, options))
        {
            if (PrivateDirectory.Ensure(dataDir))
            {
                logger.LogInformation("Made the data dir {Path} private (mode 0700)", dataDir);
            }
        }
        else if ((File.GetUnixFileMode(dataDir) & PrivateDirectory.GroupOrOther) != 0 && ReportedShared.TryAdd(dataDir, true))
        {
            logger.LogWarning("The data dir {Path} also holds files that are not the gateway's, so its mode is left as it is; "
                + "Chromium's directories in it are private", dataDir);
        }
        foreach (var path in (ReadOnlySpan<string>)[ChromiumCommandLine.ProfileDir(options), ChromiumCommandLine.ConfigDir(options)])
        {
            if (PrivateDirectory.Ensure(path))
            {
                // Open before, so what an older gateway's Chromium wrote in it may be open too.
                var files = PrivateDirectory.TightenContents(path);
                logger.LogInformation("Made {Path} private (mode 0700; {Files} entries in it lost their group and other permissions)", path, files);
            }
        }
        TightenFile(Path.Combine(dataDir, RuntimeFlags.FileName), logger);
    }

    /// <summary>
    /// The persisted runtime flags are written with the gateway's own umask, which is the operator's to choose and
    /// is left alone; they are taken private here, before the browser that uses them starts.
    /// </summary>
    private static void TightenFile(string path, ILogger logger)
    {
        try
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & PrivateDirectory.GroupOrOther) != 0)
            {
                File.SetUnixFileMode(path, mode & ~PrivateDirectory.GroupOrOther);
                logger.LogDebug("Took the group and other permissions off {Path}", path);
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // No runtime flags were ever set.
        }
    }

    private static bool HoldsOnlyGatewayEntries(string dataDir, GatewayOptions options)
    {
        string?[] own =
        [
            ChromiumCommandLine.ProfileDir(options),
            ChromiumCommandLine.ConfigDir(options),
            Path.Combine(dataDir, RuntimeFlags.FileName),
            Path.Combine(dataDir, Telemetry.Nats.NatsSinkOptions.SpoolDirectoryName),
            string.IsNullOrEmpty(options.EventsFile) ? null : Path.GetFullPath(options.EventsFile),
        ];
        foreach (var entry in Directory.EnumerateFileSystemEntries(dataDir))
        {
            var ours = own.Contains(entry, StringComparer.Ordinal)
                || Path.GetFileName(entry).StartsWith(RuntimeFlags.FileName + ".tmp-", StringComparison.Ordinal);
            if (!ours)
            {
                return false;
            }
        }
        return true;
    }
}
