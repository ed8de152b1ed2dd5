using System.Text.Json;
using CdpGateway.Telemetry;
using CdpGateway.Telemetry.Tracing;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using OtlpSpan = CdpGateway.Tests.Support.Otlp.Trace.Span;
using OtlpStatus = CdpGateway.Tests.Support.Otlp.Trace.Status;

namespace CdpGateway.Tests.Telemetry.Tracing;

/// <summary>
/// <c>--otlp-endpoint</c>: every client connection arrives at a real OTLP/HTTP collector (in process, decoding OTLP's
/// own protobuf contract) as a <c>cdp.connection</c> span with a <c>cdp.dial</c> child, on both relay paths.
/// </summary>
[Collection(OtlpExportCollection.Name)]
[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class ConnectionSpanTests
{
    [Fact]
    public async Task AConnectionArrivesAsASpanWithTheCountsOfItsDisconnect_AndItsDialAsAChild()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var gw = await TestGateway.StartAsync(o => o.OtlpEndpoint = receiver.Endpoint);
        using (var client = await gw.ConnectAsync())
        {
            Assert.Contains("\"result\"", await client.EchoAsync("{\"id\":1,\"method\":\"Browser.getVersion\"}"), StringComparison.Ordinal);
            await client.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        }
        var disconnect = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        var connectionId = disconnect.GetProperty("connection_id").GetString();
        Flush(gw);

        var connection = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.connection" && (string?)s.Attribute("cdp.connection_id") == connectionId,
            "the connection's span");
        var dial = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.dial" && s.TraceId == connection.TraceId, "the dial's span");

        Assert.Equal(OtlpSpan.Types.SpanKind.Server, connection.Span.Kind);
        Assert.Equal("browser", connection.Attribute("cdp.target"));
        Assert.Null(connection.Attribute("cdp.page_id"));
        Assert.Equal("127.0.0.1", connection.Attribute("client.address"));
        Assert.Equal("client_close", connection.Attribute("cdp.disconnect.reason"));
        Assert.Equal(disconnect.GetProperty("reason").GetString(), connection.Attribute("cdp.disconnect.reason"));
        Assert.Equal(disconnect.GetProperty("close_code").GetInt64(), connection.Attribute("cdp.close_code"));
        foreach (var (attribute, field) in new[]
        {
            ("cdp.messages.from_client", "messages_from_client"), ("cdp.messages.from_upstream", "messages_from_upstream"),
            ("cdp.bytes.from_client", "bytes_from_client"), ("cdp.bytes.from_upstream", "bytes_from_upstream"),
        })
        {
            Assert.Equal(disconnect.GetProperty(field).GetInt64(), connection.Attribute(attribute));
        }
        Assert.Equal(1L, connection.Attribute("cdp.messages.from_client"));
        Assert.Equal(disconnect.GetProperty("duration_ms").GetDouble(), connection.Attribute("cdp.duration_ms"));
        Assert.Equal(OtlpStatus.Types.StatusCode.Unset, connection.Span.Status?.Code ?? OtlpStatus.Types.StatusCode.Unset);
        Assert.Equal("", connection.ParentSpanId);

        Assert.Equal(OtlpSpan.Types.SpanKind.Client, dial.Span.Kind);
        Assert.Equal(connection.SpanId, dial.ParentSpanId);
        Assert.Equal(1L, dial.Attribute("cdp.dial.attempts"));
        Assert.Equal($"127.0.0.1:{gw.Browser.Port}", dial.Attribute("cdp.upstream"));
        Assert.Equal("127.0.0.1", dial.Attribute("server.address"));
        Assert.Equal((long)gw.Browser.Port, dial.Attribute("server.port"));
        Assert.Equal(OtlpStatus.Types.StatusCode.Unset, dial.Span.Status?.Code ?? OtlpStatus.Types.StatusCode.Unset);

        var instance = gw.Services<GatewayInstance>();
        Assert.Equal("cdp-gateway", connection.ResourceAttribute("service.name"));
        Assert.Equal(instance.Id, connection.ResourceAttribute("service.instance.id"));
        Assert.False(string.IsNullOrEmpty((string?)connection.ResourceAttribute("service.version")));
        Assert.Equal(ConnectionTracing.SourceName, connection.Scope.Name);
    }

    [Fact]
    public async Task ATraceparentOnTheUpgrade_MakesTheConnectionSpanAChildOfTheClientsSpan()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var gw = await TestGateway.StartAsync(o => o.OtlpEndpoint = receiver.Endpoint);
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        const string parentId = "00f067aa0ba902b7";
        using (var client = await gw.ConnectAsync(configure: o => o.SetRequestHeader("traceparent", $"00-{traceId}-{parentId}-01")))
        {
            await client.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        }
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Flush(gw);

        var connection = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.connection", "the connection's span");
        Assert.Equal(traceId, connection.TraceId);
        Assert.Equal(parentId, connection.ParentSpanId);
        var dial = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.dial", "the dial's span");
        Assert.Equal(traceId, dial.TraceId);
        Assert.Equal(connection.SpanId, dial.ParentSpanId);
    }

    [Fact]
    public async Task AMalformedTraceparent_LeavesTheConnectionSpanATraceOfItsOwn()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var gw = await TestGateway.StartAsync(o => o.OtlpEndpoint = receiver.Endpoint);
        using (var client = await gw.ConnectAsync(configure: o => o.SetRequestHeader("traceparent", "00-not-a-trace-01")))
        {
            await client.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        }
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Flush(gw);

        var connection = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.connection", "the connection's span");
        Assert.Equal("", connection.ParentSpanId);
        Assert.Equal(32, connection.TraceId.Length);
    }

    [Fact]
    public async Task ADialThatFails_MarksTheDialSpanAndTheConnectionSpanAsErrors()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var gw = await TestGateway.StartAsync(o => o.OtlpEndpoint = receiver.Endpoint);
        using (var client = await gw.ConnectAsync("/devtools/page/NO-SUCH-PAGE"))
        {
            Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.InternalServerError, await client.WaitForCloseAsync());
        }
        var disconnect = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal("upstream_error", disconnect.GetProperty("reason").GetString());
        Flush(gw);

        var connection = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.connection", "the connection's span");
        var dial = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.dial", "the dial's span");
        Assert.Equal("page", connection.Attribute("cdp.target"));
        Assert.Equal("NO-SUCH-PAGE", connection.Attribute("cdp.page_id"));
        Assert.Equal("upstream_error", connection.Attribute("cdp.disconnect.reason"));
        Assert.Equal(OtlpStatus.Types.StatusCode.Error, connection.Span.Status.Code);
        Assert.Equal(OtlpStatus.Types.StatusCode.Error, dial.Span.Status.Code);
        Assert.False(string.IsNullOrEmpty(dial.Span.Status.Message));
        Assert.Equal(1L, dial.Attribute("cdp.dial.attempts"));
        Assert.Equal(connection.SpanId, dial.ParentSpanId);
    }

    [Fact]
    public async Task OverGrpc_TheConnectionAndDialSpansArriveAtTheCollectorsGrpcService()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var gw = await TestGateway.StartAsync(o => (o.OtlpEndpoint, o.OtlpProtocol) = (receiver.GrpcEndpoint, "grpc"));
        using (var client = await gw.ConnectAsync())
        {
            await client.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        }
        var connectionId = (await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect)).GetProperty("connection_id").GetString();
        Flush(gw);

        var connection = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.connection", "the connection's span");
        var dial = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.dial", "the dial's span");
        Assert.Equal(connectionId, connection.Attribute("cdp.connection_id"));
        Assert.Equal(connection.SpanId, dial.ParentSpanId);
    }

    [Fact]
    public async Task TwoGatewaysInOneProcess_EachExportsOnlyItsOwnConnections()
    {
        await using var firstReceiver = await OtlpReceiver.StartAsync();
        await using var secondReceiver = await OtlpReceiver.StartAsync();
        await using var first = await TestGateway.StartAsync(o => (o.OtlpEndpoint, o.InstanceId) = (firstReceiver.Endpoint, "first"));
        await using var second = await TestGateway.StartAsync(o => (o.OtlpEndpoint, o.InstanceId) = (secondReceiver.Endpoint, "second"));
        var ids = new List<string?>();
        foreach (var gw in new[] { first, second })
        {
            using (var client = await gw.ConnectAsync())
            {
                await client.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            }
            ids.Add((await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect)).GetProperty("connection_id").GetString());
        }
        Flush(first);
        Flush(second);

        foreach (var (receiver, own, instance) in new[] { (firstReceiver, ids[0], "first"), (secondReceiver, ids[1], "second") })
        {
            var connection = await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.connection", $"{instance}'s connection span");
            await receiver.WaitForSpanAsync(s => s.Span.Name == "cdp.dial", $"{instance}'s dial span");
            Assert.Equal(own, connection.Attribute("cdp.connection_id"));
            Assert.Equal(2, receiver.Spans.Count);
            Assert.All(receiver.Spans, s => Assert.Equal(instance, s.ResourceAttribute("service.instance.id")));
        }
    }

    [Fact]
    public async Task WithoutAnEndpoint_NothingListensToTheSpansAndNoProviderExists()
    {
        await using var gw = await TestGateway.StartAsync();
        var tracing = gw.Services<ConnectionTracing>();
        Assert.Null(gw.App.Services.GetService<TracerProvider>());
        Assert.False(tracing.Source.HasListeners());
        using (var client = await gw.ConnectAsync())
        {
            await client.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        }
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Null(tracing.StartConnection("c", CdpGateway.Proxy.UpgradeTarget.FromPath("/devtools/browser/x"), null, null, null));
    }

    /// <summary>Exports now what the batch would send within seconds (the connection's span ended before its event).</summary>
    private static void Flush(TestGateway gw) => Assert.True(gw.App.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000));
}
