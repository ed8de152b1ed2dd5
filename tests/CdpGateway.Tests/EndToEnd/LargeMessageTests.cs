using System.Text;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using CdpGateway.Tests.Support;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// Big CDP messages (page sources, screenshots, injected scripts) pass through the gateway to and from a
/// real Chromium, well under the default --max-message-bytes of 100 MiB.
/// </summary>
[Trait(RelayPaths.Trait, RelayPaths.Both)]
[Collection(EndToEndCollection.Name)]
public sealed class LargeMessageTests(ITestOutputHelper output)
{
    private const int Size = 20 * 1024 * 1024;

    /// <summary>On the epoll relay (the default on Linux x86-64 and arm64) and on the runtime's sockets (<c>CDPGW_EPOLL_RELAY=0</c>).</summary>
    [Theory]
    [InlineData("epoll")]
    [InlineData("runtime sockets")]
    public async Task TwentyMebibyteMessagesPassBothWaysThroughRealChromium(string relay)
    {
        var environment = relay == "epoll" ? null : new Dictionary<string, string> { ["CDPGW_EPOLL_RELAY"] = "0" };
        await using var gateway = Start(output, _ => [], environment);
        await gateway.WaitHealthyAsync();
        using var socket = await CdpSocket.ConnectAsync(await gateway.FirstPageUrlAsync());

        // Client to Chromium: an expression holding a 20 MiB string literal.
        var command = new StringBuilder(Size + 200)
            .Append("""{"id":1,"method":"Runtime.evaluate","params":{"expression":"'""")
            .Append('a', Size)
            .Append("""'.length","returnByValue":true}}""")
            .ToString();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var inbound = await socket.CallRawAsync(1, command);
        output.WriteLine($"20 MiB in: {clock.ElapsedMilliseconds} ms");
        Assert.Equal(Size, inbound.GetProperty("result").GetProperty("value").GetInt32());

        // Chromium to client: a 20 MiB string returned by value.
        var outbound = await socket.CallRawAsync(2,
            """{"id":2,"method":"Runtime.evaluate","params":{"expression":"'x'.repeat(20*1024*1024)","returnByValue":true}}""");
        output.WriteLine($"20 MiB out: {clock.ElapsedMilliseconds} ms");
        var value = outbound.GetProperty("result").GetProperty("value").GetString()!;
        Assert.Equal(Size, value.Length);
        Assert.True(value.All(c => c == 'x'), "the returned string was altered on the way");

        // The same socket still works after both.
        var small = await socket.CallAsync("Runtime.evaluate", """{"expression":"1+1","returnByValue":true}""");
        Assert.Equal(2, small.GetProperty("result").GetProperty("value").GetInt32());
        await socket.CloseAsync();

        var connect = Assert.Single(await gateway.WaitForEventsAsync("cdp_connect"));
        var disconnect = await gateway.WaitForDisconnectAsync(ConnectionIdOf(connect));
        Assert.Equal("client_close", disconnect.GetProperty("reason").GetString());
        Assert.True(disconnect.GetProperty("bytes_from_client").GetInt64() > Size, disconnect.GetRawText());
        Assert.True(disconnect.GetProperty("bytes_from_upstream").GetInt64() > Size, disconnect.GetRawText());
    }
}
