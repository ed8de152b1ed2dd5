namespace CdpGateway.Browser;

/// <summary>What the control API can ask of the browser's owner, in launch and attach mode alike.</summary>
public interface IChromiumControl : IAsyncDisposable
{
    ChromiumStatus Status { get; }

    /// <summary>True once the current browser answered <c>Browser.getVersion</c> and has not ended since.</summary>
    bool IsReady { get; }

    IReadOnlyList<string> Flags { get; }

    /// <summary>
    /// The DevTools URL of the browser the gateway last set out to replace on purpose (a restart or flag change), from
    /// the moment it decided to; null when it never did. A connection dialled to that URL whose browser goes away knows
    /// it was replaced rather than lost, before the successor announces itself.
    /// </summary>
    string? ReplacedDevToolsUrl { get; }

    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Restarts Chromium and completes once the new one is ready (new DevTools URL, <c>Browser.getVersion</c>
    /// answered). Serialized with every other restart and flag change.
    /// </summary>
    /// <exception cref="ChromiumControlUnavailableException">This mode cannot restart (attach mode without a command).</exception>
    /// <exception cref="ChromiumNotReadyException">Not ready within the readiness limit.</exception>
    Task<ChromiumRestartResult> RestartAsync(CancellationToken cancellationToken);

    /// <summary>Replaces (<paramref name="replace"/>) or merges the runtime flags, persists them, restarts and waits as <see cref="RestartAsync"/>.</summary>
    /// <exception cref="ChromiumFlagsRefusedException">The resulting set fails the flag policy; nothing changed.</exception>
    /// <exception cref="ChromiumFlagsFailedException">Chromium did not start with them; the previous flags are back.</exception>
    Task<ChromiumRestartResult> ChangeFlagsAsync(IReadOnlyList<string> flags, bool replace, CancellationToken cancellationToken);
}

/// <summary>A finished restart: the new browser's URL, how long stop-to-ready took and, in launch mode, where that time went.</summary>
public sealed record ChromiumRestartResult(string DevToolsUrl, long Generation, TimeSpan Elapsed, IReadOnlyList<string> Flags, bool Restarted)
{
    public RestartPhases? Phases { get; init; }
}

/// <summary>
/// Where a restart's time went, measured on the gateway's clock. Chromium's own phases: <see cref="Stop"/>
/// (stop signal sent until no process of its group is left), <see cref="LaunchToDevTools"/> (spawn until its
/// DevTools line was read), <see cref="DevToolsToReady"/> (that line until <c>Browser.getVersion</c> was
/// answered). The gateway's own steps between them: <see cref="RequestToStop"/>, <see cref="StoppedToLaunch"/>
/// (standing the watchdog down, clearing profile locks, building the command line) and
/// <see cref="ReadyToAnswer"/>. The six add up to the elapsed time; a phase that did not happen (no browser
/// was running when the restart was asked for) is null and its time counts as the gateway's.
/// </summary>
public sealed record RestartPhases(
    TimeSpan? Stop,
    TimeSpan LaunchToDevTools,
    TimeSpan DevToolsToReady,
    TimeSpan Gateway,
    TimeSpan? RequestToStop,
    TimeSpan? StoppedToLaunch,
    TimeSpan ReadyToAnswer);

/// <summary>The operation needs something this mode does not have (HTTP 409).</summary>
public sealed class ChromiumControlUnavailableException(string message) : Exception(message);

/// <summary>Chromium was not ready in time (HTTP 504); carries its state at that moment.</summary>
public sealed class ChromiumNotReadyException(string message, ChromiumStatus status) : Exception(message)
{
    public ChromiumStatus Status { get; } = status;
}

/// <summary>The flag policy refuses the change (HTTP 400); nothing was persisted or restarted.</summary>
public sealed class ChromiumFlagsRefusedException(string message) : Exception(message);

/// <summary>
/// Chromium did not start with the new flags (HTTP 422): the previous flags were persisted again and Chromium
/// restarted with them. Carries the Chromium state after that.
/// </summary>
public sealed class ChromiumFlagsFailedException(string message, ChromiumStatus status) : Exception(message)
{
    public ChromiumStatus Status { get; } = status;
}
