using CdpGateway.Browser;

namespace CdpGateway.Tests.Browser;

public sealed class DevToolsLineParserTests
{
    [Theory]
    [InlineData("DevTools listening on ws://127.0.0.1:9222/devtools/browser/abc", "ws://127.0.0.1:9222/devtools/browser/abc")]
    [InlineData("\r\nDevTools listening on ws://127.0.0.1:40123/devtools/browser/0f-1\r", "ws://127.0.0.1:40123/devtools/browser/0f-1")]
    [InlineData("[0101/120000.000:INFO:x.cc(1)] DevTools listening on ws://[::1]:1/devtools/browser/x trailing words", "ws://[::1]:1/devtools/browser/x")]
    [InlineData("2024-01-01 chromium stderr | DevTools listening on ws://localhost:5/devtools/browser/y", "ws://localhost:5/devtools/browser/y")]
    public void FindsTheUrl(string line, string expected)
    {
        Assert.True(DevToolsLineParser.TryParse(line, out var url));
        Assert.Equal(expected, url);
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("DevTools listening on http://127.0.0.1:9222/")]
    [InlineData("DevTools listening on ")]
    [InlineData("devtools listening on ws://127.0.0.1:1/devtools/browser/a")]
    [InlineData("[WARNING] something else entirely")]
    public void IgnoresOtherLines(string? line)
    {
        Assert.False(DevToolsLineParser.TryParse(line, out var url));
        Assert.Null(url);
    }
}
