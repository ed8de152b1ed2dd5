using System.Net;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.Api;

public sealed class DashboardEndpointTests
{
    [Fact]
    public async Task TheRootIsASelfContainedPageReadingTheApiOfThisPort()
    {
        await using var gw = await TestGateway.StartAsync();
        using var http = new HttpClient();

        using var response = await http.GetAsync(gw.ApiHttp("/"));
        string page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType.CharSet);
        // Nothing is loaded from another origin, and the page may only call this one.
        Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Contains("connect-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.DoesNotContain("http://", page);
        Assert.DoesNotContain("https://", page);
        Assert.Contains("/telemetry/stream?replay=all", page);
        Assert.Contains("/metrics", page);
        Assert.Contains("/chromium", page);
    }
}
