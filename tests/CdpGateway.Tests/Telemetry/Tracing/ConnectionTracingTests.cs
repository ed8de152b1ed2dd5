using System.Net;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Tracing;

namespace CdpGateway.Tests.Telemetry.Tracing;

/// <summary>Without an exporter the spans cost a connection nothing: no span, no tag, no allocation.</summary>
[Collection(OtlpExportCollection.Name)]
public sealed class ConnectionTracingTests
{
    [Fact]
    public void WithoutAListener_AConnectionsSpansAllocateNothing()
    {
        using var tracing = new ConnectionTracing();
        var target = UpgradeTarget.FromPath("/devtools/page/F00D");
        var peer = new IPEndPoint(IPAddress.Loopback, 50412);
        var ended = new CdpDisconnectData { ConnectionId = "0123456789abcdef", Reason = DisconnectReason.UpstreamError, DurationMs = 12.5 };
        var dial = new DialResult(null, "ws://127.0.0.1:9222/devtools/browser/x", "refused") { Attempts = 3 };
        Assert.False(tracing.Source.HasListeners());
        RunOnce(tracing, target, peer, ended, dial);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            RunOnce(tracing, target, peer, ended, dial);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static void RunOnce(ConnectionTracing tracing, UpgradeTarget target, IPEndPoint peer, CdpDisconnectData ended, DialResult dial)
    {
        var connection = tracing.StartConnection(ended.ConnectionId, target, peer, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", null);
        Assert.Null(connection);
        var span = tracing.StartDial(connection);
        ConnectionTracing.EndDial(span, dial, cancelled: false);
        ConnectionTracing.EndConnection(connection, ended);
    }
}
