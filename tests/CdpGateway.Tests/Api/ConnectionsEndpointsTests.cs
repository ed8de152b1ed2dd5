using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Proxy;
using CdpGateway.Telemetry;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Api;

[Trait(RelayPaths.Trait, RelayPaths.Both)]
public sealed class ConnectionsEndpointsTests
{
    private const string Click = """{"id":7,"method":"Input.dispatchMouseEvent","params":{"type":"mousePressed","x":10,"y":20,"button":"left","clickCount":1}}""";

    private static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(TestGateway gw, HttpMethod method, string path,
        string? token = null, Action<HttpRequestMessage>? configure = null)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(method, gw.ApiHttp(path));
        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        configure?.Invoke(request);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length > 0 && text[0] == '{' ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return (response.StatusCode, body);
    }

    private static async Task<JsonElement[]> ListAsync(TestGateway gw)
    {
        var (status, body) = await SendAsync(gw, HttpMethod.Get, "/connections");
        Assert.Equal(HttpStatusCode.OK, status);
        var list = body.GetProperty("connections").EnumerateArray().ToArray();
        Assert.Equal(list.Length, body.GetProperty("count").GetInt32());
        return list;
    }

    private static string IdOf(JsonElement connection) => connection.GetProperty("connection_id").GetString()!;

    [Fact]
    public async Task AConnectionIsListedAsSoonAsItsConnectEventIsPublished_AndGoneWithItsDisconnectEvent()
    {
        await using var gw = await TestGateway.StartAsync();
        var reader = gw.App.Events.CreateReader(0);
        using var client = await gw.ConnectAsync();

        string? id = null;
        using (var timeout = new CancellationTokenSource(TestGateway.Patience))
        {
            while (id is null)
            {
                var batch = await reader.ReadAsync(cancellationToken: timeout.Token);
                foreach (var envelope in batch.Events.Where(e => e.Type == ConnectionEventTypes.Connect))
                {
                    id = JsonDocument.Parse(envelope.Utf8Json).RootElement.GetProperty("event").GetProperty("data").GetProperty("connection_id").GetString();
                }
            }
        }
        // Read at once: no waiting between seeing the event and looking.
        var listed = Assert.Single(await ListAsync(gw));
        Assert.Equal(id, IdOf(listed));
        Assert.Equal("browser", listed.GetProperty("target").GetString());
        Assert.False(listed.TryGetProperty("page_id", out _));
        Assert.StartsWith("127.0.0.1:", listed.GetProperty("remote").GetString());
        var connectedAt = listed.GetProperty("connected_at").GetString()!;
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", connectedAt);
        Assert.Equal(gw.Clock.GetUtcNow().UtcDateTime, DateTime.Parse(connectedAt, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal), TimeSpan.FromSeconds(1));
        gw.Clock.Advance(TimeSpan.FromMilliseconds(1500));
        var (_, one) = await SendAsync(gw, HttpMethod.Get, $"/connections/{id}");
        Assert.InRange(one.GetProperty("age_ms").GetInt64(), 1500, 2500);

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);

        Assert.Empty(await ListAsync(gw));
        var (status, _) = await SendAsync(gw, HttpMethod.Get, $"/connections/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task ListedCountersAgreeWithTheDisconnectEventOfTheSameConnection()
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();
        var created = JsonDocument.Parse(await (await http.PutAsync(gw.CdpHttp("/json/new?about:blank"), null)).Content.ReadAsStringAsync()).RootElement;
        var pageId = created.GetProperty("id").GetString()!;
        using var client = await gw.ConnectAsync($"/devtools/page/{pageId}");
        await client.EchoAsync("{}");
        await client.EchoAsync(Click);
        await client.EchoAsync("""{"id":8,"method":"Runtime.evaluate","params":{"expression":"1"}}""");

        var id = IdOf(Assert.Single(await ListAsync(gw)));
        JsonElement live = default;
        // The last echo may reach the client a moment before the relay counts it; the reported commands trail the forward.
        await Eventually.TrueAsync(async () =>
        {
            (_, live) = await SendAsync(gw, HttpMethod.Get, $"/connections/{id}");
            return live.GetProperty("messages_from_upstream").GetInt64() == 3 && live.GetProperty("commands_reported").GetInt64() == 1;
        }, () => $"three echoes and one reported command counted: {live}");
        Assert.Equal("page", live.GetProperty("target").GetString());
        Assert.Equal(pageId, live.GetProperty("page_id").GetString());

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
        var ended = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);

        Assert.Equal(id, ended.GetProperty("connection_id").GetString());
        foreach (var field in new[] { "messages_from_client", "messages_from_upstream", "bytes_from_client", "bytes_from_upstream" })
        {
            Assert.Equal(ended.GetProperty(field).GetInt64(), live.GetProperty(field).GetInt64());
        }
        Assert.Equal(3, live.GetProperty("messages_from_client").GetInt64());
        var commandEvents = gw.EventsOfType("cdp_command")
            .Count(e => e.GetProperty("event").GetProperty("data").GetProperty("connection_id").GetString() == id);
        Assert.Equal(commandEvents, live.GetProperty("commands_reported").GetInt64());
    }

    [Fact]
    public async Task DeleteClosesTheConnectionWith1008_AndItsDisconnectSaysTheOperatorCancelledIt()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        Assert.Equal("{}", await client.EchoAsync("{}"));
        var id = IdOf(Assert.Single(await ListAsync(gw)));
        var closing = client.WaitForCloseAsync();

        var (status, answer) = await SendAsync(gw, HttpMethod.Delete, $"/connections/{id}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(answer.GetProperty("closed").GetBoolean());
        Assert.Equal(CloseCodes.ClosedByOperator, await closing);
        Assert.Equal(CloseCodes.ClosedByOperatorText, client.CloseStatusDescription);
        var ended = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal("context_cancelled", ended.GetProperty("reason").GetString());
        Assert.Equal("operator", ended.GetProperty("cancelled_by").GetString());
        Assert.Equal(1008, ended.GetProperty("close_code").GetInt32());
        Assert.Equal(1, ended.GetProperty("messages_from_client").GetInt64());
        Assert.Empty(await ListAsync(gw));
        // The browser leg went with it.
        await Eventually.TrueAsync(() => gw.Browser.OpenSockets == 0, "the browser leg closed");

        var (again, error) = await SendAsync(gw, HttpMethod.Delete, $"/connections/{id}");
        Assert.Equal(HttpStatusCode.NotFound, again);
        Assert.Contains(id, error.GetProperty("error").GetString());
    }

    [Fact]
    public async Task DeleteWhileTheBrowserIsBeingDialledCancelsTheDial_WithTheSameCloseAndEvent()
    {
        await using var gw = await TestGateway.StartAsync(withBrowser: false);
        int deadPort;
        using (var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            deadPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        // Nothing listens there: the dial retries for its window (on the fake clock, so until the test moves it).
        gw.App.Tracker.Set($"ws://127.0.0.1:{deadPort}/devtools/browser/gone");
        using var client = await gw.ConnectAsync();
        var closing = client.WaitForCloseAsync();
        await gw.WaitForEventAsync(ConnectionEventTypes.Connect);
        var id = IdOf(Assert.Single(await ListAsync(gw)));

        var (status, _) = await SendAsync(gw, HttpMethod.Delete, $"/connections/{id}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(CloseCodes.ClosedByOperator, await closing);
        var ended = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal("context_cancelled", ended.GetProperty("reason").GetString());
        Assert.Equal("operator", ended.GetProperty("cancelled_by").GetString());
        Assert.Equal(1008, ended.GetProperty("close_code").GetInt32());
    }

    [Fact]
    public async Task AnEndThatIsNotTheOperatorsCarriesNoCancelledBy()
    {
        await using var gw = await TestGateway.StartAsync();
        using var client = await gw.ConnectAsync();
        await client.EchoAsync("{}");
        var closing = client.WaitForCloseAsync();

        await gw.App.StopAsync();

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await closing);
        var ended = await gw.WaitForEventAsync(ConnectionEventTypes.Disconnect);
        Assert.Equal("context_cancelled", ended.GetProperty("reason").GetString());
        Assert.False(ended.TryGetProperty("cancelled_by", out _));
    }

    [Fact]
    public async Task OtherConnectionsAndLaterOnesAreUntouchedByADelete()
    {
        await using var gw = await TestGateway.StartAsync();
        using var first = await gw.ConnectAsync();
        using var second = await gw.ConnectAsync();
        await first.EchoAsync("{}");
        await second.EchoAsync("{}");
        var ids = (await ListAsync(gw)).Select(IdOf).ToArray();
        Assert.Equal(2, ids.Length);

        var (status, _) = await SendAsync(gw, HttpMethod.Delete, $"/connections/{ids[0]}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ok", await second.EchoAsync("ok"));
        Assert.Equal(ids[1], IdOf(Assert.Single(await ListAsync(gw))));
        using var third = await gw.ConnectAsync();
        Assert.Equal("{}", await third.EchoAsync("{}"));
        Assert.Equal(2, (await ListAsync(gw)).Length);
    }

    [Theory]
    [InlineData("GET", "not-an-id", HttpStatusCode.BadRequest)]
    [InlineData("GET", "0123456789ABCDEF", HttpStatusCode.BadRequest)]
    [InlineData("GET", "0123456789abcdef0", HttpStatusCode.BadRequest)]
    [InlineData("GET", "0123456789abcdef", HttpStatusCode.NotFound)]
    [InlineData("DELETE", "..%2Fhealth", HttpStatusCode.BadRequest)]
    [InlineData("DELETE", "0123456789abcdef", HttpStatusCode.NotFound)]
    public async Task AnIdOfTheWrongFormIs400_AndAnUnknownOneIs404_EachWithAClearMessage(string method, string id, HttpStatusCode expected)
    {
        await using var gw = await TestGateway.StartAsync();

        var (status, body) = await SendAsync(gw, new HttpMethod(method), $"/connections/{id}");

        Assert.Equal(expected, status);
        Assert.Contains(expected == HttpStatusCode.BadRequest ? "16 lowercase hex characters" : "no open connection", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task WithoutTheToken_FromAWebPagesOrigin_OrThroughAReboundHost_NothingIsListedOrClosed_AndAGetClosesNothing()
    {
        const string cdpToken = "cdp-token-0123456789";
        const string apiToken = "api-token-0123456789";
        await using var gw = await TestGateway.StartAsync(o =>
        {
            o.Token = cdpToken;
            o.ApiToken = apiToken;
        });
        using var client = await gw.ConnectAsync(configure: o => o.SetRequestHeader("Authorization", $"Bearer {cdpToken}"));
        await client.EchoAsync("{}");
        var (listed, list) = await SendAsync(gw, HttpMethod.Get, "/connections", cdpToken);
        Assert.Equal(HttpStatusCode.OK, listed);
        var id = IdOf(Assert.Single(list.GetProperty("connections").EnumerateArray()));
        var path = $"/connections/{id}";

        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(gw, HttpMethod.Get, "/connections")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(gw, HttpMethod.Delete, path)).Status);
        // The read token reads but does not close.
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(gw, HttpMethod.Delete, path, cdpToken)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(gw, HttpMethod.Delete, path, apiToken,
            r => r.Headers.Add("Origin", "http://attacker.example"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(gw, HttpMethod.Delete, path, apiToken,
            r => r.Headers.Add("Sec-Fetch-Site", "cross-site"))).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(gw, HttpMethod.Delete, path, apiToken,
            r => r.Headers.Host = $"attacker.example:{gw.App.ApiPort}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(gw, HttpMethod.Get, path, apiToken,
            r => r.Headers.Host = $"attacker.example:{gw.App.ApiPort}")).Status);
        // Reading it, with every token, leaves it open.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gw, HttpMethod.Get, path, apiToken)).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gw, HttpMethod.Get, path, cdpToken)).Status);

        Assert.Equal("still open", await client.EchoAsync("still open"));
        Assert.Empty(gw.EventsOfType(ConnectionEventTypes.Disconnect));

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gw, HttpMethod.Delete, path, apiToken)).Status);
        Assert.Equal(CloseCodes.ClosedByOperator, await client.WaitForCloseAsync());
    }
}
