using System.Net.WebSockets;
using CdpGateway.Tests.Security;
using CdpGateway.Tests.Support;
using Xunit.Abstractions;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>The real gateway process with <c>--otlp-endpoint</c>: what it exports reaches the collector, by shutdown at the latest.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class OtlpProcessTests(ITestOutputHelper log)
{
    [Fact]
    public async Task AConnectionsSpanReachesTheCollector_BeforeTheGatewayHasExitedAfterSigterm()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        string connectionId;
        await using (var gateway = await GatewayUnderTest.StartAsync(log, args: ["--otlp-endpoint", receiver.Endpoint, "--instance-id", "exported"]))
        {
            var process = gateway.Process;
            using (var client = new ClientWebSocket())
            {
                await client.ConnectAsync(process.CdpWs(), CancellationToken.None);
                await client.EchoAsync("{\"id\":1,\"method\":\"Browser.getVersion\"}");
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            }
            connectionId = GatewayProcess.ConnectionIdOf((await process.WaitForEventsAsync("cdp_disconnect")).Single());
            process.Signal(GatewayProcess.SIGTERM);
            Assert.Equal(0, await process.WaitForExitAsync(GatewayProcess.Patience));
        }

        var connection = Assert.Single(receiver.Spans, s => s.Span.Name == "cdp.connection");
        Assert.Equal(connectionId, connection.Attribute("cdp.connection_id"));
        Assert.Equal("client_close", connection.Attribute("cdp.disconnect.reason"));
        Assert.Equal(1L, connection.Attribute("cdp.messages.from_client"));
        Assert.Equal("exported", connection.ResourceAttribute("service.instance.id"));
        Assert.Single(receiver.Spans, s => s.Span.Name == "cdp.dial" && s.ParentSpanId == connection.SpanId);
    }
}
