namespace CdpGateway.Tests.Telemetry.Tracing;

/// <summary>
/// The OTLP tests run one at a time, apart from the parallel tests: whether a gateway's spans have a listener is a
/// process-wide fact (every gateway's source has the same name), and one of them asserts that none exists.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OtlpExportCollection
{
    public const string Name = "OtlpExport";
}
