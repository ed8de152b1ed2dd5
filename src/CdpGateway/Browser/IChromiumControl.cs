namespace CdpGateway.Browser;

/// <summary>What the control API can ask of the browser's owner, in launch and attach mode alike.</summary>
public interface IChromiumControl : IAsyncDisposable
{
    ChromiumStatus Status { get; }

    /// <summary>True once the current browser answered <c>Browser.getVersion</c> and has not ended since.</summary>
    bool IsReady { get; }

    IReadOnlyList<string> Flags { get; }

    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Restarts Chromium and completes once the new one is ready (new DevTools URL, <c>Browser.getVersion</c>
    /// answered). Serialized with every other restart and flag change.
    /// </summary>
    /// <exception cref="ChromiumControlUnavailableException">This mode cannot restart (attach mode without a command).</exception>
    /// <exception cref="ChromiumNotReadyException">Not ready within the readiness limit.</exception>
    Task<ChromiumRestartResult> RestartAsync(CancellationToken cancellationToken);

    /// <summary>Replaces (<paramref name="replace"/>) or merges the runtime flags, persists them, restarts and waits as <see cref="RestartAsync"/>.</summary>
    Task<ChromiumRestartResult> ChangeFlagsAsync(IReadOnlyList<string> flags, bool replace, CancellationToken cancellationToken);
}

/// <summary>A finished restart: the new browser's URL and how long stop-to-ready took.</summary>
public sealed record ChromiumRestartResult(string DevToolsUrl, long Generation, TimeSpan Elapsed, IReadOnlyList<string> Flags, bool Restarted);

/// <summary>The operation needs something this mode does not have (HTTP 409).</summary>
public sealed class ChromiumControlUnavailableException(string message) : Exception(message);

/// <summary>Chromium was not ready in time (HTTP 504); carries its state at that moment.</summary>
public sealed class ChromiumNotReadyException(string message, ChromiumStatus status) : Exception(message)
{
    public ChromiumStatus Status { get; } = status;
}
