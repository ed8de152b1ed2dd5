using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Telemetry;

public sealed class TelemetryConfigEndpointTests
{
    private static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(TestGateway gw, HttpMethod method, string body)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(method, gw.ApiHttp("/telemetry")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static bool Enabled(JsonElement status, string category) =>
        status.GetProperty("config").GetProperty(category).GetProperty("enabled").GetBoolean();

    [Fact]
    public async Task PutReplacesTheConfig_AnOmittedCategoryIsOff()
    {
        await using var gw = await TestGateway.StartAsync();

        var (status, body) = await SendAsync(gw, HttpMethod.Put, """{"control":{"enabled":true,"cdp":{"excluded_methods":["Input.dispatchMouseEvent"]}}}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(Enabled(body, "connection"));
        Assert.True(Enabled(body, "control"));
        Assert.False(Enabled(body, "system"));
        Assert.Equal("Input.dispatchMouseEvent", body.GetProperty("config").GetProperty("control").GetProperty("cdp").GetProperty("excluded_methods")[0].GetString());
    }

    [Fact]
    public async Task PatchMergesOnlyWhatItNames()
    {
        await using var gw = await TestGateway.StartAsync();
        await SendAsync(gw, HttpMethod.Patch, """{"control":{"cdp":{"excluded_methods":["Page.navigate"]}}}""");

        var (_, afterDisable) = await SendAsync(gw, HttpMethod.Patch, """{"system":{"enabled":false},"connection":{}}""");
        Assert.True(Enabled(afterDisable, "connection"));
        Assert.True(Enabled(afterDisable, "control"));
        Assert.False(Enabled(afterDisable, "system"));
        Assert.Equal(1, afterDisable.GetProperty("config").GetProperty("control").GetProperty("cdp").GetProperty("excluded_methods").GetArrayLength());

        var (_, afterClear) = await SendAsync(gw, HttpMethod.Patch, """{"control":{"cdp":{"excluded_methods":[]}}}""");
        Assert.Equal(0, afterClear.GetProperty("config").GetProperty("control").GetProperty("cdp").GetProperty("excluded_methods").GetArrayLength());
    }

    [Theory]
    [InlineData("""{"network":{"enabled":true}}""", "network")]
    [InlineData("""{"connection":{"enabled":"yes"}}""", "connection.enabled")]
    [InlineData("""{"connection":{"on":true}}""", "connection.on")]
    [InlineData("""{"control":{"cdp":{"excluded_methods":["Runtime.evaluate"]}}}""", "Runtime.evaluate")]
    [InlineData("""{"control":{"cdp":{"excluded":[]}}}""", "control.cdp.excluded")]
    [InlineData("""[1,2]""", "JSON object")]
    [InlineData("""{"connection":""", "not JSON")]
    [InlineData("", "not JSON")]
    public async Task BadBodiesAre400NamingTheProblem_AndChangeNothing(string body, string named)
    {
        await using var gw = await TestGateway.StartAsync();

        var (status, error) = await SendAsync(gw, HttpMethod.Patch, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(named, error.GetProperty("error").GetString());
        var config = gw.Services<TelemetryConfig>();
        Assert.True(config.IsEnabled(EventCategory.Connection) && config.IsEnabled(EventCategory.Control) && config.IsEnabled(EventCategory.System));
        Assert.Empty(config.ExcludedCdpMethods);
    }

    [Fact]
    public async Task SwitchingConnectionOffAppliesToLiveConnections()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");

        await SendAsync(gw, HttpMethod.Patch, """{"connection":{"enabled":false}}""");
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await SendAsync(gw, HttpMethod.Patch, """{"connection":{"enabled":true}}""");
        using var second = await gw.ConnectAsync();
        await second.EchoAsync("{}");
        await second.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);

        // The first connection's disconnect fell in the off window; the second is whole.
        Assert.Equal(2, gw.EventsOfType(ConnectionEventTypes.Connect).Count);
        Assert.Single(gw.EventsOfType(ConnectionEventTypes.Disconnect));
        gw.SkipConnectionInvariant();
    }
}
