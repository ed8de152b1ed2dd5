using System.Text;
using CdpGateway.Hosting;

namespace CdpGateway.Browser;

/// <summary>
/// The arguments a launched Chromium gets: the gateway's own (DevTools on a port Chromium picks, the
/// profile under the data dir, headless, quiet-server flags, no sandbox as root), then the operator's
/// <c>--chromium-flags</c>, then the persisted runtime flags. A flag given again later replaces the earlier
/// one with the same name, so a runtime <c>--user-agent=...</c> wins over one from the command line.
/// </summary>
public static class ChromiumCommandLine
{
    /// <summary>The quiet-server flags every launch gets.</summary>
    public static readonly IReadOnlyList<string> DefaultFlags =
    [
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-breakpad",
        "--metrics-recording-only",
        "--password-store=basic",
        "--use-mock-keychain",
        "--disable-gpu",
    ];

    /// <summary>Whether every launch gets <c>--no-sandbox</c>: as root (Chromium refuses to start sandboxed), or from the operator.</summary>
    public static bool RunsWithoutSandbox(GatewayOptions options) =>
        Posix.IsRoot || SplitFlags(options.ChromiumFlags).Contains("--no-sandbox", StringComparer.Ordinal);

    /// <summary>The profile directory under the data dir.</summary>
    public static string ProfileDir(GatewayOptions options) => Path.Combine(Path.GetFullPath(options.DataDir), "profile");

    /// <summary>Chromium's config dir under the data dir (its <c>XDG_CONFIG_HOME</c>).</summary>
    public static string ConfigDir(GatewayOptions options) => Path.Combine(Path.GetFullPath(options.DataDir), "chromium-config");

    /// <summary>
    /// Environment for the launched browser. Chromium keeps its crash reports (and runs its crashpad handlers on them)
    /// under <c>$XDG_CONFIG_HOME/chromium</c>, not the profile: pointing that into the data dir keeps everything the
    /// browser writes there (nothing under the user's <c>~/.config</c>), and makes the handlers recognisable as this
    /// gateway's by the data dir in their command line.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Environment(GatewayOptions options) => new Dictionary<string, string>
    {
        ["XDG_CONFIG_HOME"] = ConfigDir(options),
    };

    /// <summary>The command line after the executable, ending with the start page.</summary>
    public static IReadOnlyList<string> Build(GatewayOptions options, IReadOnlyList<string> runtimeFlags)
    {
        var args = new List<string>
        {
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            $"--user-data-dir={ProfileDir(options)}",
        };
        if (!options.Headful)
        {
            args.Add("--headless=new");
        }
        args.AddRange(DefaultFlags);
        if (Posix.IsRoot)
        {
            args.Add("--no-sandbox");
        }
        var extra = Merge(SplitFlags(options.ChromiumFlags), runtimeFlags);
        foreach (var flag in extra)
        {
            if (IsFlag(flag))
            {
                args.RemoveAll(a => IsFlag(a) && NameOf(a) == NameOf(flag));
            }
            args.Add(flag);
        }
        args.Add("about:blank");
        return args;
    }

    /// <summary>The flag's name: the part before '=' (<c>--user-agent</c> of <c>--user-agent=x</c>).</summary>
    public static string NameOf(string flag)
    {
        var eq = flag.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? flag : flag[..eq];
    }

    /// <summary><paramref name="current"/> with <paramref name="changes"/> applied: a flag given again replaces its value.</summary>
    public static IReadOnlyList<string> Merge(IReadOnlyList<string> current, IReadOnlyList<string> changes)
    {
        var merged = new List<string>(current);
        foreach (var flag in changes)
        {
            if (IsFlag(flag))
            {
                merged.RemoveAll(f => IsFlag(f) && NameOf(f) == NameOf(flag));
            }
            merged.Add(flag);
        }
        return merged;
    }

    /// <summary>Splits a flags string on whitespace; double quotes group words (and are removed).</summary>
    public static IReadOnlyList<string> SplitFlags(string? flags)
    {
        var words = new List<string>();
        if (string.IsNullOrWhiteSpace(flags))
        {
            return words;
        }
        var word = new StringBuilder();
        var inQuotes = false;
        var hasWord = false;
        foreach (var c in flags)
        {
            if (c == '"')
            {
                inQuotes = !inQuotes;
                hasWord = true;
            }
            else if (char.IsWhiteSpace(c) && !inQuotes)
            {
                if (hasWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    hasWord = false;
                }
            }
            else
            {
                word.Append(c);
                hasWord = true;
            }
        }
        if (hasWord)
        {
            words.Add(word.ToString());
        }
        return words;
    }

    private static bool IsFlag(string arg) => arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2;
}
