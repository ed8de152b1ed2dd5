namespace CdpGateway.Telemetry.Commands;

/// <summary>What <see cref="CdpCommandClassifier.Classify"/> made of a frame.</summary>
public enum ClassifyOutcome
{
    /// <summary>A reported command: publish <see cref="ClassifyResult.Data"/>.</summary>
    Reported,

    /// <summary>
    /// A reported method whose command has the wrong shape (an argument of the wrong type, params that are not an
    /// object, a non-integer id): a loss, counted as <c>telemetry_dropped</c>.
    /// </summary>
    Malformed,

    /// <summary>
    /// Not a command at all once read in full (not valid JSON, a duplicated top-level key, which Chromium rejects as
    /// a parse error, or no matching top-level method): nothing to report and not a loss, like any frame
    /// <see cref="CdpCommandClassifier.TryReadMethod"/> turns away.
    /// </summary>
    Ignored,
}

/// <summary>
/// The outcome of classifying one admitted frame. <see cref="Problem"/> says what was wrong in our own words (an
/// argument path and the expected type); it never quotes the client's values.
/// </summary>
public readonly record struct ClassifyResult(ClassifyOutcome Outcome, CdpCommandData? Data, string? Problem)
{
    public bool IsReported => Outcome == ClassifyOutcome.Reported;

    public bool IsMalformed => Outcome == ClassifyOutcome.Malformed;

    internal static ClassifyResult Reported(CdpCommandData data) => new(ClassifyOutcome.Reported, data, null);

    internal static ClassifyResult Malformed(string problem) => new(ClassifyOutcome.Malformed, null, problem);

    internal static ClassifyResult Ignored(string problem) => new(ClassifyOutcome.Ignored, null, problem);
}
