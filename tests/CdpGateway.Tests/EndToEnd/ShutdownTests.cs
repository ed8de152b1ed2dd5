using System.Diagnostics;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// The README's "Shutdown": on SIGTERM the gateway closes every client with 1001, records their ends, flushes the events
/// file, stops Chromium's whole process tree and exits 0 within 10 s. No Chromium outlives it.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed class ShutdownTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SigtermClosesClientsWith1001RecordsTheirEndsExits0AndLeavesNoChromium()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();
        gateway.ChromiumBrowserPid(); // Chromium is running, so "none left" below means something.

        using var browserClient = await CdpSocket.ConnectAsync(gateway.CdpWs());
        using var pageClient = await CdpSocket.ConnectAsync(await gateway.FirstPageUrlAsync());
        await browserClient.CallAsync("Browser.getVersion");
        await pageClient.CallAsync("Runtime.evaluate", """{"expression":"1","returnByValue":true}""");
        await gateway.WaitForEventsAsync("cdp_connect", 2);

        var browserClosed = browserClient.WaitForCloseAsync(Patience);
        var pageClosed = pageClient.WaitForCloseAsync(Patience);
        gateway.Signal(SIGTERM);
        var sinceSignal = Stopwatch.StartNew();
        var exitCode = await gateway.WaitForExitAsync(TimeSpan.FromSeconds(10));
        var exitedAfter = sinceSignal.Elapsed;
        var leftBehind = ProcessesMentioning(gateway.DataDir);
        output.WriteLine($"exited with {exitCode} {exitedAfter.TotalMilliseconds:F0} ms after SIGTERM");

        Assert.Equal(0, exitCode);
        Assert.True(exitedAfter < TimeSpan.FromSeconds(10), $"exited {exitedAfter.TotalSeconds:F1} s after SIGTERM");
        Assert.Equal(1001, await browserClosed);
        Assert.Equal(1001, await pageClosed);
        Assert.True(leftBehind.Count == 0,
            "processes outlived the gateway: " + Describe(leftBehind));

        // Every line complete JSON; exactly one disconnect per connect, both blamed on the shutdown.
        var events = ReadEventsFile(gateway.EventsFile, strict: true);
        var connects = events.Where(e => TypeOf(e) == "cdp_connect").Select(ConnectionIdOf).ToList();
        var disconnects = events.Where(e => TypeOf(e) == "cdp_disconnect").ToList();
        Assert.Equal(2, connects.Count);
        Assert.Equal(connects.Order(), disconnects.Select(ConnectionIdOf).Order());
        Assert.All(disconnects, d =>
        {
            Assert.Equal("context_cancelled", DataOf(d).GetProperty("reason").GetString());
            Assert.Equal(1001, DataOf(d).GetProperty("close_code").GetInt32());
        });
        var seqs = events.Select(e => e.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(seqs.Order(), seqs);
    }

    /// <summary>
    /// Chromium's crash reporter keeps its reports under the data dir, not the user's ~/.config, so its handler
    /// processes carry the data dir too and the "nothing left behind" checks cover them.
    /// </summary>
    [Fact]
    public async Task ChromiumsCrashReportsAndTheirHandlersStayInTheDataDir()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();

        var handlers = ProcessesMentioning(gateway.DataDir).Where(p => p.Args[0].EndsWith("chrome_crashpad_handler", StringComparison.Ordinal)).ToList();

        Assert.NotEmpty(handlers);
        var database = "--database=" + Path.Combine(Path.GetFullPath(gateway.DataDir), "chromium-config");
        Assert.All(handlers, h => Assert.Contains(h.Args, a => a.StartsWith(database, StringComparison.Ordinal)));
    }

    /// <summary>Even a gateway that gets no chance to clean up (SIGKILL, OOM kill) takes its Chromium with it.</summary>
    [Fact]
    public async Task SigkillOfTheGatewayLeavesNoChromiumBehind()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();
        gateway.ChromiumBrowserPid(); // Chromium is running, so "none left" below means something.

        gateway.Signal(SIGKILL);
        await gateway.WaitForExitAsync(TimeSpan.FromSeconds(10));

        // Parent-death handling is asynchronous; a few seconds is the bound an operator would accept.
        IReadOnlyList<(int Pid, string[] Args)> left = [];
        await Eventually.TrueAsync(() => (left = ProcessesMentioning(gateway.DataDir)).Count == 0,
            () => "no process outliving the gateway; left: " + Describe(left), TimeSpan.FromSeconds(5));
    }
}
