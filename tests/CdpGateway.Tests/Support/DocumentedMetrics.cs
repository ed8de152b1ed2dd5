namespace CdpGateway.Tests.Support;

/// <summary>The metric families the README's metrics table lists: the one place they are written down.</summary>
public static class DocumentedMetrics
{
    /// <summary>The first cell's backticked names of every row of the table headed <c>| metric | what |</c> (or another
    /// first heading, such as <c>NATS metric</c>), labels left off.</summary>
    public static IReadOnlyList<string> Families(string heading = "metric")
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "README.md"));
        var header = Array.IndexOf(lines, $"| {heading} | what |");
        Assert.True(header >= 0, $"README.md has no '| {heading} | what |' table");
        var families = new List<string>();
        for (int i = header + 2; i < lines.Length && lines[i].StartsWith('|'); i++)
        {
            var firstCell = lines[i].Split('|')[1];
            var parts = firstCell.Split('`');
            for (int p = 1; p < parts.Length; p += 2)
            {
                var name = parts[p];
                var brace = name.IndexOf('{');
                families.Add(brace >= 0 ? name[..brace] : name);
            }
        }
        return families;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CdpGateway.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("no CdpGateway.sln above " + AppContext.BaseDirectory);
    }
}
