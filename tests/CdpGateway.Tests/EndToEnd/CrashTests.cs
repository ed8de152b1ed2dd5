using System.Diagnostics;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// Chromium dies under a connected client: the client is moved off at once, the gateway relaunches
/// Chromium by itself, the telemetry blames the restart, and the same endpoint serves the new browser.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed class CrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KillingChromiumClosesTheClientPromptlyRelaunchesChromiumAndTheEndpointKeepsWorking()
    {
        await using var gateway = Start(output);
        var firstUrl = await gateway.WaitHealthyAsync();
        var version = await gateway.GetJsonAsync(gateway.CdpHttp("/json/version"));
        var browserEndpoint = new Uri(version.GetProperty("webSocketDebuggerUrl").GetString()!);

        var clientLifetime = Stopwatch.StartNew();
        using var client = await CdpSocket.ConnectAsync(browserEndpoint);
        await client.CallAsync("Browser.getVersion");
        var connect = Assert.Single(await gateway.WaitForEventsAsync("cdp_connect"));
        var chromium = gateway.ChromiumBrowserPid();

        Signal(chromium, SIGKILL);
        var sinceKill = Stopwatch.StartNew();
        var closeCode = await client.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        var closedAfter = sinceKill.Elapsed;
        clientLifetime.Stop();
        output.WriteLine($"closed with {closeCode} {closedAfter.TotalMilliseconds:F0} ms after the kill");

        Assert.True(closeCode is 1011 or 1012, $"close code {closeCode?.ToString() ?? "none (no close frame)"}, wanted 1011 or 1012");
        Assert.True(closedAfter < TimeSpan.FromSeconds(3), $"the client was closed {closedAfter.TotalMilliseconds:F0} ms after the crash");

        // Nobody asked for a restart: the gateway relaunches Chromium itself, and says what happened.
        var secondUrl = await gateway.WaitHealthyAsync(notUrl: firstUrl);
        Assert.NotEqual(chromium, gateway.ChromiumBrowserPid());
        var exited = GatewayProcess.DataOf((await gateway.WaitForEventsAsync("chromium_exited", 1,
            e => GatewayProcess.DataOf(e).GetProperty("pid").GetInt32() == chromium))[0]);
        Assert.Equal("crash", exited.GetProperty("cause").GetString());
        Assert.Equal("SIGKILL", exited.GetProperty("signal").GetString());
        var started = await gateway.WaitForEventsAsync("chromium_started", 2);
        Assert.Equal(secondUrl, GatewayProcess.DataOf(started[^1]).GetProperty("devtools_url").GetString());

        await gateway.AssertEndedByBrowserChangeAsync(ConnectionIdOf(connect), closeCode, clientLifetime.Elapsed);

        // The endpoint the client kept (an old browser id) reaches the new browser.
        using var again = await CdpSocket.ConnectAsync(browserEndpoint);
        var product = (await again.CallAsync("Browser.getVersion")).GetProperty("product").GetString();
        Assert.StartsWith("Chrome/", product, StringComparison.Ordinal);
        Assert.NotEqual(firstUrl, secondUrl);
        await again.CloseAsync();
    }
}
