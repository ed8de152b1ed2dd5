namespace CdpGateway.Tests.Fuzz;

/// <summary>
/// Bounds shared by the property tests: enough cases to reach the parsers' corners, few enough that the whole folder
/// stays a small part of ./test. A failure prints CsCheck's seed; pass it as <c>seed:</c> to replay that case.
/// </summary>
internal static class FuzzRuns
{
    public const long Iterations = 4_000;

    public const long FewIterations = 1_000;
}
