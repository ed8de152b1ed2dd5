using System.Net;
using System.Text.RegularExpressions;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// Attach mode (<c>--chromium-log FILE</c>): something else (supervisord here played by the test) runs the
/// browser and appends its output to FILE; the gateway launches nothing and follows the file.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed partial class AttachModeTests(ITestOutputHelper output)
{
    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex DevToolsLine();

    [Fact]
    public async Task TheGatewayFollowsTheLogAcrossABrowserReplacement()
    {
        await using var gateway = StartAttached(out var log);

        // Nothing has announced itself yet.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await gateway.WaitForApiAsync());

        var first = gateway.StartFakeChromium(log);
        var firstUrl = await WaitForAnnouncementAsync(log, 1);
        Assert.Equal(firstUrl, await gateway.WaitHealthyAsync());
        // The gateway launched no browser of its own.
        Assert.Empty(ProcessesMentioning("--user-data-dir=" + gateway.DataDir));

        var clientLifetime = System.Diagnostics.Stopwatch.StartNew();
        using var client = await CdpSocket.ConnectAsync(gateway.CdpWs());
        const string hello = """{"id":7,"method":"Echo.this","params":{"n":1}}""";
        await client.SendTextAsync(hello);
        Assert.Equal(hello, await client.ReceiveTextAsync());
        var connect = Assert.Single(await gateway.WaitForEventsAsync("cdp_connect"));

        // The supervisor replaces the browser: the old one dies, a new one appends its line.
        first.Kill();
        await first.WaitForExitAsync();
        gateway.StartFakeChromium(log);

        var closeCode = await client.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        clientLifetime.Stop();
        Assert.True(closeCode is 1011 or 1012, $"close code {closeCode?.ToString() ?? "none (no close frame)"}, wanted 1011 or 1012");
        var secondUrl = await WaitForAnnouncementAsync(log, 2);
        Assert.NotEqual(firstUrl, secondUrl);
        await gateway.AssertEndedByBrowserChangeAsync(ConnectionIdOf(connect), closeCode, clientLifetime.Elapsed);

        // The same gateway endpoint now leads to the new fake.
        Assert.Equal(secondUrl, await gateway.WaitHealthyAsync(notUrl: firstUrl));
        var version = await gateway.GetJsonAsync(gateway.CdpHttp("/json/version"));
        var advertised = new Uri(version.GetProperty("webSocketDebuggerUrl").GetString()!);
        Assert.Equal(gateway.CdpPort, advertised.Port);
        Assert.Equal(new Uri(secondUrl).AbsolutePath, advertised.AbsolutePath);
        using var again = await CdpSocket.ConnectAsync(advertised);
        const string still = """{"id":8,"method":"Echo.that","params":{"n":2}}""";
        await again.SendTextAsync(still);
        Assert.Equal(still, await again.ReceiveTextAsync());
        await again.CloseAsync();
    }

    private GatewayProcess StartAttached(out string log)
    {
        // The log file does not exist yet: supervisord creates it when it first starts the program.
        var gateway = Start(output, dir => ["--chromium-log", Path.Combine(dir.Path, "chromium.log")]);
        log = Path.Combine(gateway.Dir.Path, "chromium.log");
        return gateway;
    }

    /// <summary>Waits for the n-th DevTools line in the log and returns its URL.</summary>
    private static async Task<string> WaitForAnnouncementAsync(string log, int n)
    {
        MatchCollection? matches = null;
        await Eventually.TrueAsync(async () =>
        {
            if (!File.Exists(log))
            {
                return false;
            }
            using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            matches = DevToolsLine().Matches(await reader.ReadToEndAsync());
            return matches.Count >= n;
        }, $"the fake printing DevTools line #{n} into {log}", Patience);
        return matches![n - 1].Groups[1].Value;
    }
}
