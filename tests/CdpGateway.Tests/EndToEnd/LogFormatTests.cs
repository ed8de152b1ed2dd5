using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using CdpGateway.Tests.Security;
using CdpGateway.Tests.Support;
using Xunit.Abstractions;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// What an operator's log shipper reads from the real gateway process: <c>--log-format json</c> is one JSON object per
/// line with the documented fields, a connection's lines carry its id, and plain lines start with the UTC date and time.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class LogFormatTests(ITestOutputHelper log)
{
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")]
    private static partial Regex UtcTimestamp();

    [GeneratedRegex(@"^(?<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) ")]
    private static partial Regex PlainLineStart();

    [Fact]
    public async Task JsonLogs_AreOneObjectPerLineWithTheDocumentedFields_AndAConnectionsLinesCarryItsId()
    {
        var startedAt = DateTimeOffset.UtcNow;
        string output;
        string pageConnection;
        string browserConnection;
        await using (var gateway = await GatewayUnderTest.StartAsync(log, args: ["--log-format", "json", "--log-cdp-messages", "--instance-id", "json-logs"]))
        {
            var process = gateway.Process;
            using (var page = new ClientWebSocket())
            {
                await page.ConnectAsync(process.CdpWs("/devtools/page/NO-SUCH-PAGE"), CancellationToken.None);
                Assert.Equal(WebSocketCloseStatus.InternalServerError, await page.WaitForCloseAsync());
            }
            using (var browser = new ClientWebSocket())
            {
                await browser.ConnectAsync(process.CdpWs(), CancellationToken.None);
                await browser.EchoAsync("{\"id\":7,\"method\":\"Browser.getVersion\"}");
                await browser.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            }
            var ended = await process.WaitForEventsAsync("cdp_disconnect", 2);
            pageConnection = GatewayProcess.ConnectionIdOf(ended.Single(e => GatewayProcess.DataOf(e).GetProperty("reason").GetString() == "upstream_error"));
            browserConnection = GatewayProcess.ConnectionIdOf(ended.Single(e => GatewayProcess.DataOf(e).GetProperty("reason").GetString() == "client_close"));
            await Eventually.TrueAsync(() => process.Output.Contains("method=Browser.getVersion", StringComparison.Ordinal), "the message log's lines");
            process.Signal(GatewayProcess.SIGTERM);
            Assert.Equal(0, await process.WaitForExitAsync(GatewayProcess.Patience));
            output = process.Output;
        }

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.NotEmpty(lines);
        var entries = new List<JsonElement>();
        foreach (var line in lines)
        {
            using var document = JsonDocument.Parse(line);
            var entry = document.RootElement.Clone();
            entries.Add(entry);
            Assert.Equal(JsonValueKind.Object, entry.ValueKind);
            var timestamp = entry.GetProperty("timestamp").GetString()!;
            Assert.Matches(UtcTimestamp(), timestamp);
            var at = DateTimeOffset.Parse(timestamp, CultureInfo.InvariantCulture);
            Assert.InRange(at, startedAt.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
            Assert.Contains(entry.GetProperty("level").GetString(), new[] { "debug", "info", "warning", "error", "critical" });
            Assert.False(string.IsNullOrEmpty(entry.GetProperty("category").GetString()));
            Assert.Equal(JsonValueKind.Number, entry.GetProperty("event_id").ValueKind);
            Assert.Equal(JsonValueKind.String, entry.GetProperty("message").ValueKind);
            Assert.Equal("json-logs", entry.GetProperty("instance").GetString());
        }

        var warning = Assert.Single(entries, e => e.GetProperty("level").GetString() == "warning"
            && e.GetProperty("message").GetString()!.Contains("no upstream", StringComparison.Ordinal));
        Assert.Equal(pageConnection, warning.GetProperty("connection_id").GetString());
        Assert.Equal("CdpGateway.Proxy.CdpConnectionHandler", warning.GetProperty("category").GetString());
        var messages = entries.Where(e => e.GetProperty("category").GetString() == "CdpGateway.Proxy.CdpMessageLog").ToList();
        Assert.Equal(2, messages.Count);
        Assert.All(messages, m => Assert.Equal(browserConnection, m.GetProperty("connection_id").GetString()));
    }

    [Fact]
    public async Task PlainLogs_StartWithTheUtcDateAndTime()
    {
        var startedAt = DateTimeOffset.UtcNow;
        string output;
        await using (var gateway = await GatewayUnderTest.StartAsync(log))
        {
            gateway.Process.Signal(GatewayProcess.SIGTERM);
            Assert.Equal(0, await gateway.Process.WaitForExitAsync(GatewayProcess.Patience));
            output = gateway.Process.Output;
        }

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines, line =>
        {
            var match = PlainLineStart().Match(line);
            Assert.True(match.Success, $"a plain line that does not start with the UTC date and time: {line}");
            var at = DateTimeOffset.Parse(match.Groups["time"].Value, CultureInfo.InvariantCulture);
            Assert.InRange(at, startedAt.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        });
    }
}
