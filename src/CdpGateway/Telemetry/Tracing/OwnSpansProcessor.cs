using System.Diagnostics;
using OpenTelemetry;

namespace CdpGateway.Telemetry.Tracing;

/// <summary>
/// Passes on to the exporter only the spans of one gateway's <see cref="ActivitySource"/>. Every gateway's source is
/// named <see cref="ConnectionTracing.SourceName"/>, and a listener subscribes by name, so in a process with several
/// gateways (the tests) each provider sees every gateway's spans; this keeps each gateway's export to its own.
/// </summary>
/// <remarks>A composite of one, so the exporter still learns its provider (and with it the resource).</remarks>
internal sealed class OwnSpansProcessor(ActivitySource own, BaseProcessor<Activity> exporter) : CompositeProcessor<Activity>([exporter])
{
    public override void OnStart(Activity data)
    {
        if (ReferenceEquals(data.Source, own))
        {
            base.OnStart(data);
        }
    }

    public override void OnEnd(Activity data)
    {
        if (ReferenceEquals(data.Source, own))
        {
            base.OnEnd(data);
        }
    }
}
