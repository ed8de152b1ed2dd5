using CdpGateway.Hosting;

namespace CdpGateway.Tests.Hosting;

/// <summary>
/// The one access decision, table by table: hosts, forwarded hosts, origins and Sec-Fetch-Site, preflights, tokens in
/// every form and scope, content types, and the order in which they are checked.
/// </summary>
public sealed class AccessPolicyTests
{
    private const string Token = "s3cret";
    private const string ApiToken = "api-s3cret";

    private static AccessRequest Request(string port = "cdp", string method = "GET", string? host = "127.0.0.1:9222") => new()
    {
        Port = port == "api" ? AccessPort.Api : AccessPort.Cdp,
        Method = method,
        Host = host,
    };

    [Fact]
    public void ARefusalQuotesOnlyTheStartOfALongHeader()
    {
        var policy = new AccessPolicy(new GatewayOptions());
        var host = "evil.example" + new string('a', 10_000);

        var decision = policy.Decide(Request(host: host));

        Assert.Equal(403, decision.Status);
        Assert.StartsWith("Host 'evil.example", decision.Message, StringComparison.Ordinal);
        Assert.True(decision.Message!.Length < 300, decision.Message);
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.0.0.1:9222", true)]
    [InlineData("10.1.2.3:10001", true)]
    [InlineData("[::1]", true)]
    [InlineData("[::1]:9222", true)]
    [InlineData("[fe80::1]:80", true)]
    [InlineData("localhost", true)]
    [InlineData("LocalHost:10001", true)]
    [InlineData("gw.internal", true)]
    [InlineData("GW.Internal:443", true)]
    [InlineData("other.example", true)]
    [InlineData("evil.example", false)]
    [InlineData("evil.example:10001", false)]
    [InlineData("localhost.", false)]
    [InlineData("sub.localhost", false)]
    [InlineData("localhost.evil.example", false)]
    [InlineData("127.0.0.1.nip.io", false)]
    [InlineData("2130706433", false)]
    [InlineData("127.1", false)]
    [InlineData("::1", false)]
    [InlineData("[::1", false)]
    [InlineData("[::1]x", false)]
    [InlineData("[127.0.0.1]", false)]
    [InlineData("gw.internal.evil.example", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void OnlyIpLiteralsLocalhostAndListedNamesAreAcceptedAsHost(string? host, bool allowed)
    {
        var policy = new AccessPolicy(new GatewayOptions { AllowedHosts = "gw.internal, Other.Example:8080" });

        foreach (var port in new[] { "cdp", "api" })
        {
            var decision = policy.Decide(Request(port, host: host));

            Assert.Equal(allowed, decision.IsAllowed);
            if (!allowed)
            {
                Assert.Equal(403, decision.Status);
                Assert.Contains("--allowed-hosts", decision.Message);
                Assert.Contains(host is { Length: > 0 } ? $"'{host}'" : "without a Host", decision.Message);
            }
        }
    }

    [Fact]
    public void AStarInTheHostListAcceptsAnyHost()
    {
        var policy = new AccessPolicy(new GatewayOptions { AllowedHosts = "*" });

        Assert.True(policy.Decide(Request(host: "anything.example:1")).IsAllowed);
        Assert.False(policy.Decide(Request(host: null)).IsAllowed);
    }

    [Theory]
    [InlineData(false, "evil.example", true)]          // not trusted: not read at all
    [InlineData(true, "public.example", true)]
    [InlineData(true, "public.example:443", true)]
    [InlineData(true, "evil.example", false)]
    [InlineData(true, "public.example, evil.example", false)]
    [InlineData(true, "127.0.0.1", true)]
    public void AForwardedHostCountsOnlyWhenTrusted_AndThenMustPassToo(bool trust, string forwarded, bool allowed)
    {
        var policy = new AccessPolicy(new GatewayOptions { TrustForwardedHeaders = trust, AllowedHosts = "public.example" });

        var decision = policy.Decide(Request() with { ForwardedHost = forwarded });

        Assert.Equal(allowed, decision.IsAllowed);
        if (!allowed)
        {
            Assert.Equal(403, decision.Status);
            Assert.Contains("X-Forwarded-Host 'evil.example'", decision.Message);
        }
    }

    [Fact]
    public void AForwardedHostNeverStandsInForTheHost()
    {
        var policy = new AccessPolicy(new GatewayOptions { TrustForwardedHeaders = true });

        var decision = policy.Decide(Request(host: "evil.example:9222") with { ForwardedHost = "127.0.0.1:9222" });

        Assert.Equal(403, decision.Status);
        Assert.Contains("Host 'evil.example:9222'", decision.Message);
    }

    [Theory]
    [InlineData("cdp", "GET", null, null, 200, null)]
    [InlineData("api", "POST", null, null, 200, null)]
    [InlineData("cdp", "GET", "https://ok.example", null, 200, "https://ok.example")]
    [InlineData("api", "PATCH", "https://ok.example/", null, 200, "https://ok.example/")]
    [InlineData("api", "PATCH", "HTTPS://OK.EXAMPLE", null, 200, "HTTPS://OK.EXAMPLE")]
    [InlineData("api", "GET", "https://evil.example", null, 403, null)]
    [InlineData("api", "POST", "https://evil.example", null, 403, null)]
    [InlineData("cdp", "PUT", "http://evil.example:9222", null, 403, null)]
    [InlineData("api", "POST", "null", null, 403, null)]
    [InlineData("api", "POST", "http://127.0.0.1:9222", null, 200, null)]   // the gateway's own page
    [InlineData("api", "POST", "http://localhost:9222", null, 403, null)]   // another origin on the same machine
    [InlineData("api", "POST", "https://127.0.0.1:9222", null, 403, null)]  // the gateway serves no https
    [InlineData("api", "GET", null, "cross-site", 403, null)]
    [InlineData("cdp", "GET", null, "cross-site", 403, null)]
    [InlineData("cdp", "GET", "https://ok.example", "cross-site", 200, "https://ok.example")]
    [InlineData("api", "GET", null, "same-origin", 200, null)]
    [InlineData("api", "GET", null, "none", 200, null)]
    [InlineData("api", "GET", null, "same-site", 200, null)]
    public void ARequestFromAWebPageNeedsAnAllowedOrItsOwnOrigin(string port, string method, string? origin, string? site, int status, string? cors)
    {
        var policy = new AccessPolicy(new GatewayOptions { AllowedOrigins = "https://ok.example" });

        var decision = policy.Decide(Request(port, method) with { Origin = origin, SecFetchSite = site });

        Assert.Equal(status, decision.IsAllowed ? 200 : decision.Status);
        Assert.Equal(cors, decision.CorsOrigin);
        if (status == 403)
        {
            Assert.Contains(origin is null ? "Sec-Fetch-Site" : origin == "null" ? "Origin: null" : $"'{origin}'", decision.Message);
            Assert.Contains(origin == "null" ? "opaque" : "--allowed-origins", decision.Message);
            Assert.Empty(decision.Headers());
        }
    }

    [Fact]
    public void AStarInTheOriginListAllowsEveryOriginButNull()
    {
        var policy = new AccessPolicy(new GatewayOptions { AllowedOrigins = "*" });

        Assert.Equal("https://any.example", policy.Decide(Request() with { Origin = "https://any.example" }).CorsOrigin);
        Assert.Equal(403, policy.Decide(Request() with { Origin = "null" }).Status);
    }

    [Fact]
    public void BehindATrustedProxyTheForwardedHostIsTheDashboardsOwnOrigin()
    {
        var policy = new AccessPolicy(new GatewayOptions { TrustForwardedHeaders = true, AllowedHosts = "public.example" });
        var behindProxy = Request("api", "POST", "127.0.0.1:10001") with { ForwardedHost = "public.example" };

        Assert.True(policy.Decide(behindProxy with { Origin = "https://public.example" }).IsAllowed);
        Assert.True(policy.Decide(behindProxy with { Origin = "http://public.example" }).IsAllowed);
        Assert.False(policy.Decide(behindProxy with { Origin = "https://other.example" }).IsAllowed);
    }

    [Fact]
    public void APreflightFromAnAllowedOriginIsAnsweredBeforeTheToken()
    {
        var policy = new AccessPolicy(new GatewayOptions { Token = Token, AllowedOrigins = "https://ok.example" });
        var preflight = Request("api", "OPTIONS") with { Origin = "https://ok.example", PreflightMethod = "PATCH", PrivateNetworkRequested = true };

        var decision = policy.Decide(preflight);

        Assert.Equal(AccessOutcome.Preflight, decision.Outcome);
        Assert.Equal(204, decision.Status);
        var headers = decision.Headers().ToDictionary(h => h.Key, h => h.Value);
        Assert.Equal("https://ok.example", headers["Access-Control-Allow-Origin"]);
        Assert.Equal("Origin", headers["Vary"]);
        Assert.Contains("PATCH", headers["Access-Control-Allow-Methods"]);
        Assert.Equal("Authorization, Content-Type, Last-Event-ID", headers["Access-Control-Allow-Headers"]);
        Assert.Equal("true", headers["Access-Control-Allow-Private-Network"]);
        Assert.DoesNotContain("Access-Control-Allow-Private-Network", policy.Decide(preflight with { PrivateNetworkRequested = false }).Headers().Select(h => h.Key));

        var refused = policy.Decide(preflight with { Origin = "https://evil.example" });
        Assert.Equal(403, refused.Status);
        Assert.Empty(refused.Headers());
    }

    [Fact]
    public void AnAllowedOriginsRefusalStillCarriesCorsHeaders_SoItsPageCanReadWhy()
    {
        var policy = new AccessPolicy(new GatewayOptions { Token = Token, AllowedOrigins = "https://ok.example" });

        var decision = policy.Decide(Request("api") with { Origin = "https://ok.example" });

        Assert.Equal(401, decision.Status);
        var headers = decision.Headers().ToDictionary(h => h.Key, h => h.Value);
        Assert.Equal("Bearer", headers["WWW-Authenticate"]);
        Assert.Equal("https://ok.example", headers["Access-Control-Allow-Origin"]);
    }

    [Theory]
    // The CDP port: --token only, from the header or the query, decoded as ASP.NET Core decodes it.
    [InlineData("cdp", "GET", null, null, 401)]
    [InlineData("cdp", "GET", "Bearer s3cret", null, 200)]
    [InlineData("cdp", "GET", "bearer   s3cret  ", null, 200)]
    [InlineData("cdp", "GET", "Basic s3cret", null, 401)]
    [InlineData("cdp", "GET", "Bearer", null, 401)]
    [InlineData("cdp", "GET", "Bearer s3cre", null, 401)]
    [InlineData("cdp", "GET", "Bearer s3crett", null, 401)]
    [InlineData("cdp", "GET", "Bearer api-s3cret", null, 401)]
    [InlineData("cdp", "GET", "Bearer wrong", "token=s3cret", 200)]
    [InlineData("cdp", "GET", null, "token=s3cret", 200)]
    [InlineData("cdp", "GET", null, "?token=s3cret", 200)]
    [InlineData("cdp", "GET", null, "a=1&token=s3cret&b=2", 200)]
    [InlineData("cdp", "GET", null, "token=s3cr%65t", 200)]
    [InlineData("cdp", "GET", null, "to%6Ben=s3cret", 200)]
    [InlineData("cdp", "GET", null, "TOKEN=s3cret", 200)]
    [InlineData("cdp", "GET", null, "token=s3cret+", 401)]
    [InlineData("cdp", "GET", null, "token=s3cret&token=s3cret", 401)]
    [InlineData("cdp", "GET", null, "token=s3cret&token=wrong", 401)]
    [InlineData("cdp", "GET", null, "token=wrong", 401)]
    [InlineData("cdp", "GET", null, "token=", 401)]
    [InlineData("cdp", "GET", null, "token", 401)]
    [InlineData("cdp", "GET", null, "xtoken=s3cret", 401)]
    [InlineData("cdp", "GET", null, "token=api-s3cret", 401)]
    // The API's reads take either token.
    [InlineData("api", "GET", null, null, 401)]
    [InlineData("api", "HEAD", "Bearer s3cret", null, 200)]
    [InlineData("api", "GET", "Bearer api-s3cret", null, 200)]
    [InlineData("api", "GET", null, "token=api-s3cret", 200)]
    [InlineData("api", "GET", null, "token=wrong", 401)]
    // Its control requests need the API token; the CDP token is the wrong scope.
    [InlineData("api", "POST", "Bearer api-s3cret", null, 200)]
    [InlineData("api", "PATCH", null, "token=api-s3cret", 200)]
    [InlineData("api", "delete", "Bearer api-s3cret", null, 200)]
    [InlineData("api", "POST", "Bearer s3cret", null, 403)]
    [InlineData("api", "PUT", null, "token=s3cret", 403)]
    [InlineData("api", "POST", null, null, 401)]
    [InlineData("api", "POST", "Bearer wrong", null, 401)]
    public void TokensAreReadInEveryFormAndCheckedForTheirScope(string port, string method, string? authorization, string? query, int status)
    {
        var policy = new AccessPolicy(new GatewayOptions { Token = Token, ApiToken = ApiToken });

        var decision = policy.Decide(Request(port, method) with { Authorization = authorization, Query = query });

        Assert.Equal(status, decision.IsAllowed ? 200 : decision.Status);
        if (status == 401)
        {
            Assert.Equal(new KeyValuePair<string, string>("WWW-Authenticate", "Bearer"), Assert.Single(decision.Headers()));
        }
        if (status == 403)
        {
            Assert.Contains("the control endpoints need the API token (--api-token)", decision.Message);
        }
    }

    [Theory]
    [InlineData(null, null, "cdp", "GET", null, 200)]
    [InlineData(null, null, "api", "POST", null, 200)]
    [InlineData(Token, null, "api", "POST", "Bearer s3cret", 200)]  // without an API token, --token covers control
    [InlineData(Token, null, "api", "POST", null, 401)]
    [InlineData(null, ApiToken, "cdp", "GET", null, 200)]           // the API token guards the API port only
    [InlineData(null, ApiToken, "api", "GET", null, 401)]
    [InlineData(null, ApiToken, "api", "GET", "Bearer api-s3cret", 200)]
    [InlineData(null, ApiToken, "api", "POST", "Bearer api-s3cret", 200)]
    [InlineData(null, ApiToken, "cdp", "GET", "Bearer api-s3cret", 200)]
    public void EachTokenGuardsItsOwnScope(string? token, string? apiToken, string port, string method, string? authorization, int status)
    {
        var policy = new AccessPolicy(new GatewayOptions { Token = token, ApiToken = apiToken });

        var decision = policy.Decide(Request(port, method) with { Authorization = authorization });

        Assert.Equal(status, decision.IsAllowed ? 200 : decision.Status);
    }

    [Fact]
    public void ATokenWithEscapesAndSpacesIsReadFromTheQueryAsKestrelReadsIt()
    {
        var policy = new AccessPolicy(new GatewayOptions { Token = "t/k n+" });

        Assert.True(policy.Decide(Request() with { Query = "token=t%2Fk%20n%2B" }).IsAllowed);
        Assert.True(policy.Decide(Request() with { Query = "token=t/k+n%2B" }).IsAllowed);
        Assert.False(policy.Decide(Request() with { Query = "token=t/k+n+" }).IsAllowed);
        Assert.True(policy.QueryCarriesToken("?token=t%2Fk+n%2B"));
        Assert.False(policy.QueryCarriesToken(null));
    }

    [Theory]
    [InlineData("api", "POST", true, "text/plain", 415)]
    [InlineData("api", "POST", true, "application/x-www-form-urlencoded", 415)]
    [InlineData("api", "POST", true, "multipart/form-data; boundary=x", 415)]
    [InlineData("api", "PATCH", true, null, 415)]
    [InlineData("api", "PUT", true, "application/jsonp", 415)]
    [InlineData("api", "PATCH", true, "application/json", 200)]
    [InlineData("api", "PUT", true, "Application/JSON; charset=utf-8", 200)]
    [InlineData("api", "POST", false, null, 200)]            // POST /chromium/restart needs no body
    [InlineData("api", "POST", false, "text/plain", 200)]
    [InlineData("api", "GET", true, "text/plain", 200)]
    [InlineData("cdp", "PUT", true, "text/plain", 200)]
    public void AControlRequestsBodyMustBeJson(string port, string method, bool body, string? contentType, int status)
    {
        var policy = new AccessPolicy(new GatewayOptions());

        var decision = policy.Decide(Request(port, method) with { HasBody = body, ContentType = contentType });

        Assert.Equal(status, decision.IsAllowed ? 200 : decision.Status);
        if (status == 415)
        {
            Assert.Contains($"'{contentType ?? "(none)"}'", decision.Message);
            Assert.Contains("application/json", decision.Message);
        }
    }

    [Fact]
    public void TheHostComesFirst_ThenTheOrigin_ThenTheToken_ThenTheBody()
    {
        var policy = new AccessPolicy(new GatewayOptions { Token = Token });
        var everythingWrong = Request("api", "POST", "evil.example") with { Origin = "http://evil.example", HasBody = true, ContentType = "text/plain" };

        Assert.Contains("Host", policy.Decide(everythingWrong).Message);
        Assert.Contains("origin", policy.Decide(everythingWrong with { Host = "127.0.0.1" }).Message);
        Assert.Equal(401, policy.Decide(everythingWrong with { Host = "127.0.0.1", Origin = null }).Status);
        Assert.Equal(415, policy.Decide(everythingWrong with { Host = "127.0.0.1", Origin = null, Authorization = "Bearer s3cret" }).Status);
    }

    [Fact]
    public void APlainUpgradesDecisionAllocatesNothing()
    {
        var open = new AccessPolicy(new GatewayOptions { AllowedHosts = "gw.test" });
        var guarded = new AccessPolicy(new GatewayOptions { Token = Token, AllowedHosts = "gw.test" });
        var plain = Request(host: "gw.test:9222");
        var bearer = plain with { Authorization = "Bearer s3cret" };
        Assert.True(open.Decide(plain).IsAllowed);
        Assert.True(guarded.Decide(bearer).IsAllowed);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            open.Decide(plain);
            guarded.Decide(bearer);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
