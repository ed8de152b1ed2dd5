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

    private static async Task<string> GetStatusTextAsync(TestGateway gw, string? token = null)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, gw.ApiHttp("/telemetry"));
        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static string ConfigOf(string status) => JsonDocument.Parse(status).RootElement.GetProperty("config").GetRawText();

    private const string ExampleConfig = """{"connection":{"enabled":true},"control":{"enabled":true,"cdp":{"excluded_methods":["Page.navigate"]}},"system":{"enabled":false}}""";

    [Fact]
    public async Task PutOfExactlyWhatGetAnswered_Is200AndChangesNothing()
    {
        await using var gw = await TestGateway.StartAsync();
        // The defaults first, then a config that differs from them in every way a PUT could lose.
        foreach (var setUp in new[] { null, """{"system":{"enabled":false},"control":{"cdp":{"excluded_methods":["Page.navigate","Input.dispatchMouseEvent"]}}}""" })
        {
            if (setUp is not null)
            {
                Assert.Equal(HttpStatusCode.OK, (await SendAsync(gw, HttpMethod.Patch, setUp)).Status);
            }
            var before = await GetStatusTextAsync(gw);
            Assert.Contains("\"seq\"", before);
            Assert.Contains("\"dropped_events\"", before);

            var (status, answer) = await SendAsync(gw, HttpMethod.Put, before);

            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(ConfigOf(before), answer.GetProperty("config").GetRawText());
            Assert.Equal(ConfigOf(before), ConfigOf(await GetStatusTextAsync(gw)));
        }
        var config = gw.Services<TelemetryConfig>();
        Assert.True(config.IsEnabled(EventCategory.Connection) && config.IsEnabled(EventCategory.Control));
        Assert.False(config.IsEnabled(EventCategory.System));
        Assert.Equal(["Input.dispatchMouseEvent", "Page.navigate"], config.ExcludedCdpMethods.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task GetsAnswerWithOtherCountersOrAnEditedConfigIsTakenForItsConfig()
    {
        await using var gw = await TestGateway.StartAsync();

        // Counters from another moment (or another gateway) change nothing; the config is what a PUT replaces.
        var (put, answer) = await SendAsync(gw, HttpMethod.Put, $$"""{"config":{{ExampleConfig}},"seq":987654,"dropped_events":3}""");
        Assert.Equal(HttpStatusCode.OK, put);
        Assert.False(Enabled(answer, "system"));
        Assert.NotEqual(987654, answer.GetProperty("seq").GetInt64());
        Assert.Equal(0, answer.GetProperty("dropped_events").GetInt64());

        // PATCH takes the same shape and merges its config.
        var (patch, patched) = await SendAsync(gw, HttpMethod.Patch, """{"config":{"system":{"enabled":true}},"seq":0}""");
        Assert.Equal(HttpStatusCode.OK, patch);
        Assert.True(Enabled(patched, "system"));
        Assert.Equal("Page.navigate", Assert.Single(gw.Services<TelemetryConfig>().ExcludedCdpMethods));
    }

    [Theory]
    [InlineData("""{"config":{"connection":{"enabled":"true"},"control":{"enabled":true,"cdp":{"excluded_methods":[]}},"system":{"enabled":true}},"seq":1,"dropped_events":0}""", "config.connection.enabled")]
    [InlineData("""{"config":{"connection":{"enabled":true},"control":{"enabled":1,"cdp":{"excluded_methods":[]}},"system":{"enabled":true}},"seq":1,"dropped_events":0}""", "config.control.enabled")]
    [InlineData("""{"config":{"connection":{"enabled":true},"control":{"enabled":true,"cdp":{"excluded_methods":"Page.navigate"}},"system":{"enabled":true}},"seq":1,"dropped_events":0}""", "config.control.cdp.excluded_methods")]
    [InlineData("""{"config":{"connection":{"enabled":true},"control":{"enabled":true,"cdp":{"excluded_methods":[]}},"system":true},"seq":1,"dropped_events":0}""", "config.system")]
    [InlineData("""{"config":{"connection":{"enabled":true},"control":{"enabled":true,"cdp":{"excluded_methods":[]}},"system":{"enabled":true}},"seq":"1","dropped_events":0}""", "seq")]
    [InlineData("""{"config":{"connection":{"enabled":true},"control":{"enabled":true,"cdp":{"excluded_methods":[]}},"system":{"enabled":true}},"seq":1,"dropped_events":-1}""", "dropped_events")]
    [InlineData("""{"config":{"connection":{"enabled":true},"control":{"enabled":true,"cdp":{"excluded_methods":[]}},"system":{"enabled":true}},"seq":1.5,"dropped_events":0}""", "seq")]
    [InlineData("""{"config":{"connection":{"enabled":true},"control":{"enabled":true,"cdp":{"excluded_methods":[]}},"system":{"enabled":true}},"seq":null,"dropped_events":0}""", "seq")]
    [InlineData("""{"config":[],"seq":1,"dropped_events":0}""", "config")]
    [InlineData("""{"config":{"connection":{"enabled":true}},"seq":1,"dropped_events":0,"status":"ok"}""", "'status'")]
    [InlineData("""{"config":{"connection":{"enabled":true}},"connection":{"enabled":false}}""", "'connection'")]
    [InlineData("""{"config":{"network":{"enabled":true}},"seq":1}""", "config.network")]
    [InlineData("""{"config":{"connection":{"enabled":true,"on":true}}}""", "config.connection.on")]
    [InlineData("""{"seq":1,"dropped_events":0}""", "config")]
    public async Task GetsShapeWithAWrongTypeOrAnUnknownFieldIs400NamingIt_AndChangesNothing(string body, string named)
    {
        await using var gw = await TestGateway.StartAsync();

        var (status, error) = await SendAsync(gw, HttpMethod.Put, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(named, error.GetProperty("error").GetString());
        var config = gw.Services<TelemetryConfig>();
        Assert.True(config.IsEnabled(EventCategory.Connection) && config.IsEnabled(EventCategory.Control) && config.IsEnabled(EventCategory.System));
        Assert.Empty(config.ExcludedCdpMethods);
    }

    [Fact]
    public async Task GetsAnswerPutBackWithoutTheApiTokenIsRefusedAsAnyControlRequest()
    {
        const string cdpToken = "cdp-token-0123456789";
        const string apiToken = "api-token-0123456789";
        await using var gw = await TestGateway.StartAsync(o =>
        {
            o.Token = cdpToken;
            o.ApiToken = apiToken;
        });
        // The reader may GET with the CDP token, but what it read does not let it PUT.
        var body = (await GetStatusTextAsync(gw, cdpToken)).Replace("\"system\":{\"enabled\":true}", "\"system\":{\"enabled\":false}", StringComparison.Ordinal);
        Assert.Contains("\"system\":{\"enabled\":false}", body);

        async Task<HttpStatusCode> PutAsync(string? token)
        {
            using var http = new HttpClient();
            using var request = new HttpRequestMessage(HttpMethod.Put, gw.ApiHttp("/telemetry")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            if (token is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            }
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await PutAsync(null));
        Assert.Equal(HttpStatusCode.Forbidden, await PutAsync(cdpToken));
        Assert.True(gw.Services<TelemetryConfig>().IsEnabled(EventCategory.System));

        Assert.Equal(HttpStatusCode.OK, await PutAsync(apiToken));
        Assert.False(gw.Services<TelemetryConfig>().IsEnabled(EventCategory.System));
    }
}

