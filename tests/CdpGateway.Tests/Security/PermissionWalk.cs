namespace CdpGateway.Tests.Security;

/// <summary>Modes as <c>ls</c> shows them, and the walk that finds what a local user other than the owner could open.</summary>
internal static class PermissionWalk
{
    public const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public static UnixFileMode Mode(string octal) => (UnixFileMode)Convert.ToInt32(octal, 8);

    public static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    public static string OctalOf(string path) => Octal(File.GetUnixFileMode(path));

    /// <summary>
    /// <paramref name="root"/> and every file and directory below it that gives the group or others any permission,
    /// as "MODE PATH" lines. Symbolic links are skipped (their own mode means nothing and Chromium's point outside).
    /// </summary>
    public static IReadOnlyList<string> OpenEntries(string root)
    {
        // Chromium is running while this walks: a directory it removes under the walk makes the walk start over.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return Walk(root);
            }
            catch (DirectoryNotFoundException) when (attempt < 5)
            {
            }
        }
    }

    private static List<string> Walk(string root)
    {
        var open = new List<string>();
        var top = new DirectoryInfo(root);
        if ((top.UnixFileMode & GroupOrOther) != 0)
        {
            open.Add($"{Octal(top.UnixFileMode)} {root}");
        }
        var pending = new Stack<DirectoryInfo>();
        pending.Push(top);
        // By hand: a recursive enumeration descends into links to directories.
        while (pending.TryPop(out var directory))
        {
            foreach (var entry in directory.EnumerateFileSystemInfos().ToList())
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
                        open.Add($"{Octal(entry.UnixFileMode)} {entry.FullName}");
                    }
                }
                catch (FileNotFoundException)
                {
                    // Removed since it was listed.
                }
            }
        }
        return open;
    }

    public static void AssertNothingOpen(string root)
    {
        var open = OpenEntries(root);
        Assert.True(open.Count == 0, $"open to the group or others under {root}:\n{string.Join('\n', open)}");
    }
}
