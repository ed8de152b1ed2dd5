using CdpGateway.Hosting;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Browser;

/// <summary>
/// The runtime flags launches use. New flags (persisted ones at start, or an operator's change) are on trial until a
/// browser with them is ready: one that fails before that puts the flags before them back, so a bad flag costs one
/// failed start instead of the gateway's browser.
/// </summary>
internal sealed class LaunchFlags
{
    private readonly RuntimeFlags _flags;
    private readonly FlagPolicy _policy;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();

    // Guarded by _gate.
    private FlagTrial? _trial;
    private string? _error;

    public LaunchFlags(GatewayOptions options, ILogger logger)
    {
        _flags = new RuntimeFlags(options.DataDir);
        _policy = new FlagPolicy(options.AllowRuntimeFlags, ChromiumCommandLine.RunsWithoutSandbox(options));
        _logger = logger;
    }

    public IReadOnlyList<string> Current => _flags.Current;

    /// <summary>Why the persisted flags are not in use, for the status; null when they are.</summary>
    public string? Error
    {
        get
        {
            lock (_gate)
            {
                return _error;
            }
        }
    }

    /// <summary>
    /// The persisted flags, or none when the file is unreadable or fails the policy (edited by hand, or a policy
    /// tightened since): that is reported in the status and logged, and the gateway starts without them. Flags loaded
    /// are on trial for launches after <paramref name="generation"/>.
    /// </summary>
    public IReadOnlyList<string> LoadAtStart(long generation)
    {
        foreach (var name in _policy.Unallowable)
        {
            _logger.LogWarning("--allow-runtime-flag {Name} is ignored: the gateway sets that flag itself, so it can never be changed at run time", name);
        }
        var flags = Load();
        if (flags.Count > 0)
        {
            // Until a browser with them is ready, a failed start drops them instead of blocking the gateway.
            lock (_gate)
            {
                _trial = new FlagTrial(Fallback: [], AfterGeneration: generation, Persisted: false);
            }
        }
        return flags;
    }

    private IReadOnlyList<string> Load()
    {
        IReadOnlyList<string> flags;
        try
        {
            flags = _flags.Load();
        }
        catch (InvalidDataException e)
        {
            return IgnorePersisted(e.Message);
        }
        if (_policy.Check(flags) is { } refusal)
        {
            return IgnorePersisted($"{_flags.FilePath}: {refusal.Message}");
        }
        if (flags.Count > 0)
        {
            _logger.LogInformation("Runtime Chromium flags from {Path}: {Flags}", _flags.FilePath, FlagPolicy.Names(flags));
        }
        return flags;
    }

    private IReadOnlyList<string> IgnorePersisted(string reason)
    {
        _flags.Use([]);
        lock (_gate)
        {
            _error = reason + "; the persisted runtime flags are ignored until the next change through /chromium/flags";
        }
        _logger.LogError("Ignoring the persisted runtime flags: {Reason}", reason);
        return [];
    }

    /// <summary>
    /// An operator's change, replacing (<paramref name="replace"/>) or merged into the current flags: persisted and on
    /// trial for launches after <paramref name="generation"/>. Null when it changes nothing, since restarting the
    /// browser for that would only take it away from its clients.
    /// </summary>
    /// <exception cref="ChromiumFlagsRefusedException">The resulting set fails the flag policy; nothing changed.</exception>
    public FlagTrial? Change(IReadOnlyList<string> flags, bool replace, long generation, out IReadOnlyList<string> current)
    {
        current = _flags.Current;
        var next = ChromiumCommandLine.Merge(replace ? [] : current, flags);
        if (_policy.Check(next) is { } refusal)
        {
            _logger.LogWarning("Refused a runtime flag change: {Reason}", refusal.Message);
            throw new ChromiumFlagsRefusedException(refusal.Message);
        }
        if (next.SequenceEqual(current, StringComparer.Ordinal))
        {
            return null;
        }
        var trial = new FlagTrial(current, generation, Persisted: true);
        lock (_gate)
        {
            _trial = trial;
        }
        _flags.Save(next);
        lock (_gate)
        {
            _error = null;
        }
        _logger.LogInformation("Runtime Chromium flags are now: {Flags}; restarting Chromium", FlagPolicy.Names(next));
        return trial;
    }

    /// <summary>A browser of <paramref name="generation"/> got all the way to ready: the flags on trial no longer fall back.</summary>
    public void Confirm(long generation)
    {
        lock (_gate)
        {
            if (_trial is { } trial && generation > trial.AfterGeneration)
            {
                _trial = null;
            }
        }
    }

    /// <summary>
    /// A browser launched with flags on trial did not start (its exec failed, or it ended or was killed before it was ready):
    /// the flags before them become current again, and the next launch uses those. Flags changed through the API are
    /// persisted back too, so a gateway restart never meets them; persisted flags that failed at start are reported.
    /// </summary>
    public void Fail(long generation, string reason)
    {
        FlagTrial? trial;
        lock (_gate)
        {
            trial = _trial;
            if (trial is null || generation <= trial.AfterGeneration)
            {
                return;
            }
            _trial = null;
        }
        var failed = _flags.Current;
        if (trial.Persisted)
        {
            try
            {
                _flags.Save(trial.Fallback);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _flags.Use(trial.Fallback);
                _logger.LogError("Could not persist the previous runtime flags again: {Message}", e.Message);
            }
            _logger.LogError("Chromium did not start with the runtime flags {Flags} ({Reason}); back to {Previous}",
                FlagPolicy.Names(failed), reason, trial.Fallback.Count == 0 ? "none" : FlagPolicy.Names(trial.Fallback));
        }
        else
        {
            _flags.Use(trial.Fallback);
            lock (_gate)
            {
                _error = $"Chromium did not start with the runtime flags in {_flags.FilePath} ({reason}); they are ignored until the next change through /chromium/flags";
            }
            _logger.LogError("Chromium did not start with the runtime flags {Flags} from {Path} ({Reason}); ignoring them",
                FlagPolicy.Names(failed), _flags.FilePath, reason);
        }
        trial.Failed.TrySetResult(reason);
    }
}
