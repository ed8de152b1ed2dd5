namespace CdpGateway.Browser;

/// <summary>Where the supervised Chromium is in its life, as <c>/health</c> and <c>GET /chromium</c> report it.</summary>
public static class ChromiumState
{
    /// <summary>Launched (or, in attach mode, not yet announced); not yet answering.</summary>
    public const string Starting = "starting";

    /// <summary>Announced a DevTools URL and answered <c>Browser.getVersion</c>.</summary>
    public const string Ready = "ready";

    /// <summary>
    /// Was ready and stopped answering <c>Browser.getVersion</c> without an exit the gateway saw (stopped where it is
    /// supervised, hung); ready again once it, or a new browser, answers.
    /// </summary>
    public const string Unreachable = "unreachable";

    /// <summary>Being stopped and started again on request (restart, new flags).</summary>
    public const string Restarting = "restarting";

    /// <summary>Exited unexpectedly; waiting out the backoff before the next start.</summary>
    public const string Backoff = "backoff";

    /// <summary>Keeps exiting soon after each start; retried at the capped backoff.</summary>
    public const string CrashLoop = "crash_loop";

    /// <summary>The gateway is shutting down, or has stopped it.</summary>
    public const string Stopped = "stopped";
}

/// <summary>Why a Chromium ended (the <c>cause</c> of <c>chromium_exited</c>).</summary>
public static class ChromiumExitCause
{
    public const string Crash = "crash";
    public const string Restart = "restart";
    public const string Shutdown = "shutdown";
}
