using System.Text;
using System.Text.RegularExpressions;

namespace CdpGateway.Browser;

/// <summary>Why a runtime flag is refused.</summary>
public enum FlagClass
{
    /// <summary>Starts a program, or loads code the browser would not load otherwise.</summary>
    RunsCode,

    /// <summary>Makes Chromium write files where the flag says.</summary>
    WritesFiles,

    /// <summary>Makes Chromium read files of the gateway's host into the browser.</summary>
    ReadsFiles,

    /// <summary>Names a file or directory on the gateway's host.</summary>
    HostPath,

    /// <summary>Opens DevTools to others, or weakens the sandbox or the web's origin boundary.</summary>
    WeakensSecurity,

    /// <summary>Set by the gateway itself: changing it would cut the gateway off from its browser.</summary>
    GatewayOwned,

    /// <summary>Longer than <see cref="FlagPolicy.MaxFlagBytes"/>, or the set over <see cref="FlagPolicy.MaxSetBytes"/>.</summary>
    TooLong,
}

/// <summary>A refused flag: its name (lower case, no value), its class and the message for the API.</summary>
public sealed record FlagRefusal(string Name, FlagClass Class, string Message);

/// <summary>
/// What the API may set as a Chromium flag at run time. The control API is reachable by whoever holds its token
/// (or by anyone, unauthenticated): it must not become a way to run programs on the host, to read or write the
/// host's files, or to open the browser to the web or the network beyond what CDP already gives. Names are
/// compared in lower case because an upper-case spelling must not slip past a check that some Chromium builds
/// would honour. The operator widens the policy by name at start (<c>--allow-runtime-flag</c>); flags the
/// gateway owns and the size limits cannot be widened. The operator's own <c>--chromium-flags</c> are not checked.
/// </summary>
public sealed class FlagPolicy
{
    /// <summary>One flag, in UTF-8 bytes: anything longer is not a flag anyone types.</summary>
    public const int MaxFlagBytes = 4 * 1024;

    /// <summary>All runtime flags together, in UTF-8 bytes: far below what the kernel refuses at exec.</summary>
    public const int MaxSetBytes = 64 * 1024;

    private const string AllowHint = "start the gateway with --allow-runtime-flag";

    private static readonly Dictionary<string, FlagClass> Exact = new(StringComparer.Ordinal)
    {
        ["--browser-subprocess-path"] = FlagClass.RunsCode,
        ["--load-extension"] = FlagClass.RunsCode,
        ["--disable-extensions-except"] = FlagClass.RunsCode,
        ["--load-component-extension"] = FlagClass.RunsCode,
        ["--allowlisted-extension-id"] = FlagClass.RunsCode,
        ["--whitelisted-extension-id"] = FlagClass.RunsCode,
        ["--install-isolated-web-app-from-file"] = FlagClass.RunsCode,
        ["--install-isolated-web-app-from-url"] = FlagClass.RunsCode,
        ["--nacl-gdb"] = FlagClass.RunsCode,
        ["--nacl-gdb-script"] = FlagClass.RunsCode,
        ["--register-pepper-plugins"] = FlagClass.RunsCode,
        ["--ppapi-flash-path"] = FlagClass.RunsCode,
        ["--ppapi-in-process"] = FlagClass.RunsCode,
        ["--custom-devtools-frontend"] = FlagClass.RunsCode,
        ["--mojo-core-library-path"] = FlagClass.RunsCode,
        ["--enable-service-binary-launcher"] = FlagClass.RunsCode,
        ["--wait-for-debugger-children"] = FlagClass.RunsCode,
        // Child-process switches: on the browser's own command line they turn it into another process type.
        ["--type"] = FlagClass.RunsCode,
        ["--renderer"] = FlagClass.RunsCode,
        ["--zygote"] = FlagClass.RunsCode,
        ["--gpu-process"] = FlagClass.RunsCode,
        ["--ppapi"] = FlagClass.RunsCode,
        ["--sandbox-ipc"] = FlagClass.RunsCode,
        ["--service-sandbox-type"] = FlagClass.RunsCode,
        ["--renderer-client-id"] = FlagClass.RunsCode,
        ["--shared-files"] = FlagClass.RunsCode,
        ["--field-trial-handle"] = FlagClass.RunsCode,
        ["--mojo-platform-channel-handle"] = FlagClass.RunsCode,
        ["--launch-time-ticks"] = FlagClass.RunsCode,
        ["--as-browser"] = FlagClass.RunsCode,
        ["--test-child-process"] = FlagClass.RunsCode,
        // Debian's /usr/bin/chromium wrapper reads these itself: gdb, man, and a profile of its own.
        ["--debug"] = FlagClass.RunsCode,
        ["--help"] = FlagClass.RunsCode,
        ["--temp-profile"] = FlagClass.GatewayOwned,

        ["--log-file"] = FlagClass.WritesFiles,
        ["--log-net-log"] = FlagClass.WritesFiles,
        ["--crash-dumps-dir"] = FlagClass.WritesFiles,
        ["--enable-crash-reporter"] = FlagClass.WritesFiles,
        ["--full-memory-crash-report"] = FlagClass.WritesFiles,
        ["--disk-cache-dir"] = FlagClass.WritesFiles,
        ["--media-cache-dir"] = FlagClass.WritesFiles,
        ["--ssl-key-log-file"] = FlagClass.WritesFiles,
        ["--screenshot"] = FlagClass.WritesFiles,
        ["--print-to-pdf"] = FlagClass.WritesFiles,
        ["--profile-directory"] = FlagClass.WritesFiles,
        ["--webrtc-event-logging"] = FlagClass.WritesFiles,
        ["--ozone-dump-file"] = FlagClass.WritesFiles,
        ["--pack-extension"] = FlagClass.WritesFiles,
        ["--pack-extension-key"] = FlagClass.WritesFiles,
        ["--diagnostics"] = FlagClass.WritesFiles,

        ["--use-file-for-fake-video-capture"] = FlagClass.ReadsFiles,
        ["--use-file-for-fake-audio-capture"] = FlagClass.ReadsFiles,
        ["--file-url-path-alias"] = FlagClass.ReadsFiles,
        ["--trustable-web-bundles-file-url"] = FlagClass.ReadsFiles,
        ["--android-fonts-path"] = FlagClass.ReadsFiles,
        ["--policy"] = FlagClass.ReadsFiles,

        ["--remote-allow-origins"] = FlagClass.WeakensSecurity,
        ["--disable-web-security"] = FlagClass.WeakensSecurity,
        ["--allow-running-insecure-content"] = FlagClass.WeakensSecurity,
        ["--allow-file-access-from-files"] = FlagClass.WeakensSecurity,
        ["--allow-file-access"] = FlagClass.WeakensSecurity,
        ["--disable-site-isolation-trials"] = FlagClass.WeakensSecurity,
        ["--disable-site-isolation-for-policy"] = FlagClass.WeakensSecurity,
        ["--single-process"] = FlagClass.WeakensSecurity,
        ["--in-process-gpu"] = FlagClass.WeakensSecurity,
        ["--no-sandbox"] = FlagClass.WeakensSecurity,
        ["--no-zygote"] = FlagClass.WeakensSecurity,
        ["--no-zygote-sandbox"] = FlagClass.WeakensSecurity,
        ["--no-unsandboxed-zygote"] = FlagClass.WeakensSecurity,
        ["--allow-sandbox-debugging"] = FlagClass.WeakensSecurity,
        ["--gpu-sandbox-allow-sysv-shm"] = FlagClass.WeakensSecurity,
        ["--change-stack-guard-on-fork"] = FlagClass.WeakensSecurity,
        ["--disable-kill-after-bad-ipc"] = FlagClass.WeakensSecurity,
        ["--disable-ipc-flooding-protection"] = FlagClass.WeakensSecurity,
        ["--unsafely-treat-insecure-origin-as-secure"] = FlagClass.WeakensSecurity,
        ["--ignore-certificate-errors"] = FlagClass.WeakensSecurity,
        ["--ignore-certificate-errors-spki-list"] = FlagClass.WeakensSecurity,
        ["--allow-insecure-localhost"] = FlagClass.WeakensSecurity,
        ["--disable-webrtc-encryption"] = FlagClass.WeakensSecurity,
        ["--dom-automation"] = FlagClass.WeakensSecurity,
        ["--enable-gpu-benchmarking"] = FlagClass.WeakensSecurity,
        ["--enable-skia-benchmarking"] = FlagClass.WeakensSecurity,
        ["--enable-stats-collection-bindings"] = FlagClass.WeakensSecurity,
        ["--enable-net-benchmarking"] = FlagClass.WeakensSecurity,
        ["--enable-blink-test-features"] = FlagClass.WeakensSecurity,
        ["--expose-internals-for-testing"] = FlagClass.WeakensSecurity,
        ["--enable-web-auth-deprecated-mojo-testing-api"] = FlagClass.WeakensSecurity,
        ["--auto-select-desktop-capture-source"] = FlagClass.WeakensSecurity,
        ["--auto-accept-camera-and-microphone-capture"] = FlagClass.WeakensSecurity,
        ["--isolated-app-origins"] = FlagClass.WeakensSecurity,
        ["--explicitly-allowed-ports"] = FlagClass.WeakensSecurity,
        ["--crash-server-url"] = FlagClass.WeakensSecurity,

        ["--user-data-dir"] = FlagClass.GatewayOwned,
    };

    /// <summary>Families by prefix or suffix: Chromium adds members over time, so they are matched as a whole.</summary>
    private static readonly (Func<string, bool> Matches, FlagClass Class)[] Families =
    [
        (n => n.StartsWith("--remote-debugging-", StringComparison.Ordinal), FlagClass.GatewayOwned),
        (n => n.EndsWith("-cmd-prefix", StringComparison.Ordinal), FlagClass.RunsCode),
        (n => n.EndsWith("-launcher", StringComparison.Ordinal), FlagClass.RunsCode),
        (n => n.StartsWith("--utility-", StringComparison.Ordinal), FlagClass.RunsCode),
        (n => n.StartsWith("--load-", StringComparison.Ordinal), FlagClass.RunsCode),
        (n => n.StartsWith("--nacl-", StringComparison.Ordinal), FlagClass.RunsCode),
        (n => n.StartsWith("--ppapi-", StringComparison.Ordinal), FlagClass.RunsCode),
        (n => n.EndsWith("-startup-dialog", StringComparison.Ordinal), FlagClass.RunsCode),
        (n => n.StartsWith("--net-log", StringComparison.Ordinal), FlagClass.WritesFiles),
        (n => n.StartsWith("--trace-", StringComparison.Ordinal), FlagClass.WritesFiles),
        (n => n.StartsWith("--enable-tracing", StringComparison.Ordinal), FlagClass.WritesFiles),
        (n => n.StartsWith("--profiling-", StringComparison.Ordinal), FlagClass.WritesFiles),
        (n => n.StartsWith("--print-to-pdf", StringComparison.Ordinal), FlagClass.WritesFiles),
        (n => n.StartsWith("--use-file-for-", StringComparison.Ordinal), FlagClass.ReadsFiles),
        (n => n.StartsWith("--disable-", StringComparison.Ordinal) && n.Contains("sandbox", StringComparison.Ordinal), FlagClass.WeakensSecurity),
        (n => n.StartsWith("--ignore-certificate-errors", StringComparison.Ordinal), FlagClass.WeakensSecurity),
        (n => n.StartsWith("--allow-insecure-", StringComparison.Ordinal), FlagClass.WeakensSecurity),
        (n => n.StartsWith("--enable-unsafe-", StringComparison.Ordinal), FlagClass.WeakensSecurity),
        (n => n.EndsWith("-file", StringComparison.Ordinal) || n.EndsWith("-files", StringComparison.Ordinal)
            || n.EndsWith("-dir", StringComparison.Ordinal) || n.EndsWith("-dirs", StringComparison.Ordinal)
            || n.EndsWith("-directory", StringComparison.Ordinal) || n.EndsWith("-path", StringComparison.Ordinal)
            || n.EndsWith("-paths", StringComparison.Ordinal), FlagClass.HostPath),
    ];

    /// <summary>V8 flags <c>--js-flags</c> may carry: memory and JIT settings that neither write files nor load code.</summary>
    private static readonly Regex AllowedV8Flag = new(
        @"^--(?:(?:max-old-space-size|max-semi-space-size|min-semi-space-size|stack-size)=[0-9]{1,9}|expose-gc|jitless|no-expose-wasm)$",
        RegexOptions.CultureInvariant);

    private const string AllowedV8Flags =
        "--max-old-space-size=N, --max-semi-space-size=N, --min-semi-space-size=N, --stack-size=N, --expose-gc, --jitless, --no-expose-wasm";

    /// <summary>Items of list-valued flags that open powerful interfaces to web pages or undo site isolation.</summary>
    private static readonly Dictionary<string, string[]> RefusedListItems = new(StringComparer.Ordinal)
    {
        ["--enable-blink-features"] = ["mojojs", "mojojstest"],
        ["--disable-features"] = ["isolateorigins", "site-per-process", "siteperprocess"],
    };

    private readonly HashSet<string> _allowed;
    private readonly bool _runsWithoutSandbox;

    /// <param name="allowed">Names the operator allows although the policy refuses them (<c>--name</c>, any case).</param>
    /// <param name="runsWithoutSandbox">The gateway itself launches Chromium with <c>--no-sandbox</c>, so asking for it changes nothing.</param>
    public FlagPolicy(IEnumerable<string> allowed, bool runsWithoutSandbox)
    {
        var names = allowed.Select(n => NameOf(n.StartsWith("--", StringComparison.Ordinal) ? n : "--" + n)).ToList();
        Unallowable = names.Where(n => Classify(n, null) == FlagClass.GatewayOwned).Distinct().ToList();
        _allowed = names.Except(Unallowable).ToHashSet(StringComparer.Ordinal);
        _runsWithoutSandbox = runsWithoutSandbox;
    }

    /// <summary>Names the operator listed that no allowance can open (the gateway's own flags): ignored.</summary>
    public IReadOnlyList<string> Unallowable { get; }

    /// <summary>The flag's name as the policy sees it: the part before the first <c>=</c>, lower case.</summary>
    public static string NameOf(string flag)
    {
        var eq = flag.IndexOf('=', StringComparison.Ordinal);
        return (eq < 0 ? flag : flag[..eq]).ToLowerInvariant();
    }

    /// <summary>Flags as their names only, for logs: values may carry paths or secrets.</summary>
    public static string Names(IEnumerable<string> flags) =>
        string.Join(' ', flags.Select(f => Shorten(ChromiumCommandLine.NameOf(f))));

    /// <summary>The first refusal in a whole set of runtime flags (each flag, then their total size), or null.</summary>
    public FlagRefusal? Check(IReadOnlyList<string> flags)
    {
        long total = 0;
        foreach (var flag in flags)
        {
            if (Check(flag) is { } refusal)
            {
                return refusal;
            }
            total += Encoding.UTF8.GetByteCount(flag);
        }
        return total > MaxSetBytes
            ? new FlagRefusal("", FlagClass.TooLong,
                $"the runtime flags would be {total} bytes together, over the limit of {MaxSetBytes} bytes (64 KiB)")
            : null;
    }

    /// <summary>Null when the API may set <paramref name="flag"/>, else the refusal naming it.</summary>
    public FlagRefusal? Check(string flag)
    {
        var name = NameOf(flag);
        var bytes = Encoding.UTF8.GetByteCount(flag);
        if (bytes > MaxFlagBytes)
        {
            return new FlagRefusal(name, FlagClass.TooLong,
                $"flag {Shorten(name)} is {bytes} bytes long, over the limit of {MaxFlagBytes} bytes (4 KiB) for one flag");
        }
        var value = flag.Length > name.Length ? flag[(name.Length + 1)..] : null;
        if (Classify(name, value) is not { } found)
        {
            return null;
        }
        if (found == FlagClass.GatewayOwned)
        {
            return new FlagRefusal(name, found,
                $"flag {Shorten(name)} is set by the gateway itself ({ClassName(found)}) and can never be changed at run time, not even with --allow-runtime-flag");
        }
        if (_allowed.Contains(name) || (name == "--no-sandbox" && _runsWithoutSandbox))
        {
            return null;
        }
        var v8 = name == "--js-flags" ? $" (V8 flags that need no allowance: {AllowedV8Flags})" : "";
        return new FlagRefusal(name, found,
            $"flag {Shorten(name)} is refused: it {Describe(found)} ({ClassName(found)}){v8}; to allow it, {AllowHint} {Shorten(name)}");
    }

    /// <summary>The class that refuses a flag of this (lower-case) name and value, or null when it is fine.</summary>
    public static FlagClass? Classify(string name, string? value)
    {
        if (Exact.TryGetValue(name, out var exact))
        {
            return exact;
        }
        foreach (var (matches, cls) in Families)
        {
            if (matches(name))
            {
                return cls;
            }
        }
        switch (name)
        {
            case "--enable-logging":
                // Only stderr keeps the log where the gateway reads it; any other value writes a file.
                return value == "stderr" ? null : FlagClass.WritesFiles;
            case "--js-flags":
                // V8's own flags include --logfile, --prof and --trace-*, which write files.
                return string.IsNullOrEmpty(value) || value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
                    .All(v => AllowedV8Flag.IsMatch(V8Name(v))) ? null : FlagClass.RunsCode;
        }
        if (RefusedListItems.TryGetValue(name, out var refused) && value is not null
            && value.Split(',', StringSplitOptions.TrimEntries).Any(item => refused.Contains(item.ToLowerInvariant())))
        {
            return FlagClass.WeakensSecurity;
        }
        return null;
    }

    /// <summary>The short name a refusal message gives each class (the README uses the same).</summary>
    public static string ClassName(FlagClass cls) => cls switch
    {
        FlagClass.RunsCode => "runs-code",
        FlagClass.WritesFiles => "writes-files",
        FlagClass.ReadsFiles => "reads-files",
        FlagClass.HostPath => "host-path",
        FlagClass.WeakensSecurity => "weakens-security",
        FlagClass.GatewayOwned => "gateway-owned",
        _ => "too-long",
    };

    private static string Describe(FlagClass cls) => cls switch
    {
        FlagClass.RunsCode => "runs a program or loads code into Chromium",
        FlagClass.WritesFiles => "makes Chromium write files on the gateway's host",
        FlagClass.ReadsFiles => "makes Chromium read files of the gateway's host into the browser",
        FlagClass.HostPath => "names a file or directory on the gateway's host",
        FlagClass.WeakensSecurity => "weakens the DevTools, sandbox or web security boundary",
        FlagClass.GatewayOwned => "is set by the gateway itself",
        _ => "is too long",
    };

    /// <summary>V8 spells a flag with '-' or '_' alike; the allow-list is written with '-'.</summary>
    private static string V8Name(string v8Flag)
    {
        var eq = v8Flag.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? v8Flag.Replace('_', '-') : v8Flag[..eq].Replace('_', '-') + v8Flag[eq..];
    }

    /// <summary>A name fit for a message or a log line: a flag without '=' may be as long as the flag.</summary>
    internal static string Shorten(string name) => name.Length <= 100 ? name : name[..100] + "...";
}
