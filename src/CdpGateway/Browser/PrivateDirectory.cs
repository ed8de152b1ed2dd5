namespace CdpGateway.Browser;

/// <summary>
/// A directory only the gateway's own user can enter (0700). Chromium's profile holds
/// <c>DevToolsActivePort</c>, and the port it names takes anyone who can read it straight to Chromium's
/// unauthenticated DevTools, past the gateway's token; a directory nobody else can enter keeps that, and
/// everything else Chromium keeps there, out of other local users' reach.
/// </summary>
public static class PrivateDirectory
{
    /// <summary>rwx for the owner, nothing for group or others.</summary>
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Every permission bit of the group and of others.</summary>
    public const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Creates <paramref name="path"/> with mode 0700, or sets an existing one that gives the group or others
    /// any access to 0700. Missing parents are created as <c>mkdir -p</c> would (they are not the gateway's to
    /// close). Returns true when an existing directory was tightened.
    /// </summary>
    public static bool Ensure(string path)
    {
        var full = Path.GetFullPath(path);
        if (!Directory.Exists(full))
        {
            if (Path.GetDirectoryName(full) is { Length: > 0 } parent)
            {
                Directory.CreateDirectory(parent);
            }
            // Created with the mode rather than changed afterwards, so there is no moment at which it is open.
            Directory.CreateDirectory(full, Mode);
        }
        // Also reached when the directory appeared between the check and the creation: its mode is then
        // whatever its creator gave it.
        if ((File.GetUnixFileMode(full) & GroupOrOther) == 0)
        {
            return false;
        }
        File.SetUnixFileMode(full, Mode);
        return true;
    }

    /// <summary>
    /// Takes the group's and others' bits off every file and directory below <paramref name="path"/>, for a
    /// tree an older gateway left readable. Symbolic links are neither changed nor followed: changing one's mode
    /// would change its target's, which may be outside the tree. Returns how many entries were changed.
    /// </summary>
    public static int TightenContents(string path)
    {
        var changed = 0;
        var pending = new Stack<DirectoryInfo>();
        pending.Push(new DirectoryInfo(path));
        // By hand rather than a recursive enumeration, which descends into links to directories.
        while (pending.TryPop(out var directory))
        {
            List<FileSystemInfo> entries;
            try
            {
                entries = directory.EnumerateFileSystemInfos().ToList();
            }
            catch (DirectoryNotFoundException)
            {
                // A running browser's temporary directory, gone since it was listed.
                continue;
            }
            foreach (var entry in entries)
            {
                if (entry.LinkTarget is not null)
                {
                    continue;
                }
                if (entry is DirectoryInfo subdirectory)
                {
                    pending.Push(subdirectory);
                }
                try
                {
                    if ((entry.UnixFileMode & GroupOrOther) != 0)
                    {
                        entry.UnixFileMode &= ~GroupOrOther;
                        changed++;
                    }
                }
                catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
                {
                    // Gone since it was listed.
                }
            }
        }
        return changed;
    }
}
