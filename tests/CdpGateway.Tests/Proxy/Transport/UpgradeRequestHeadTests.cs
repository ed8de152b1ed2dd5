using System.Text;
using CdpGateway.Proxy.Transport;

namespace CdpGateway.Tests.Proxy.Transport;

/// <summary>
/// Which requests the CDP port answers itself: only plain WebSocket upgrades to /devtools/ paths; everything else is
/// left to Kestrel, whose answers (discovery, 400, 401, 403, ...) must not change.
/// </summary>
public sealed class UpgradeRequestHeadTests
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

    private static string Request(string requestLine = "GET /devtools/browser/abc HTTP/1.1", string? drop = null, string extra = "")
    {
        var headers = new List<string>
        {
            "Host: 127.0.0.1:9222",
            "Connection: keep-alive, Upgrade",
            "Upgrade: websocket",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: " + Key,
        };
        if (drop is not null)
        {
            headers.RemoveAll(h => h.StartsWith(drop + ":", StringComparison.Ordinal));
        }
        return requestLine + "\r\n" + string.Join("\r\n", headers) + "\r\n" + extra + "\r\n";
    }

    private static UpgradeRequestHeadStatus Read(string request, out UpgradeRequestHead head) =>
        UpgradeRequestHead.TryRead(Encoding.Latin1.GetBytes(request), out head);

    [Fact]
    public void APlainUpgradeQualifies_WithItsPathQueryKeyOriginAndAuthorization()
    {
        var request = Request("GET /devtools/page/F00D?token=t0k HTTP/1.1",
            extra: "Origin: http://localhost:3000\r\nAuthorization: Bearer abc\r\nSec-WebSocket-Extensions: permessage-deflate\r\n");

        Assert.Equal(UpgradeRequestHeadStatus.Upgrade, Read(request + "\x81\x80", out var head));
        Assert.Equal(request.Length, head.Length);
        Assert.Equal("/devtools/page/F00D", head.Path);
        Assert.Equal("token=t0k", head.Query);
        Assert.Equal(Key, head.Key);
        Assert.Equal("http://localhost:3000", head.Origin);
        Assert.Equal("Bearer abc", head.Authorization);
    }

    [Fact]
    public void WhatTheAccessDecisionReadsIsCaptured_AndAKnownHostIsNotReadAgain()
    {
        const string host = "127.0.0.1:9222";
        var request = Request(extra: "X-Forwarded-Host: public.example\r\nSec-Fetch-Site: cross-site\r\n");

        Assert.Equal(UpgradeRequestHeadStatus.Upgrade, UpgradeRequestHead.TryRead(Encoding.ASCII.GetBytes(request), out var head, host));

        Assert.Same(host, head.Host);
        Assert.Equal("public.example", head.ForwardedHost);
        Assert.Equal("cross-site", head.SecFetchSite);
        Assert.Equal("127.0.0.1:9222", head.Access.Host);
        Assert.Equal("GET", head.Access.Method);
        Read(request, out var fresh);
        Assert.Equal(host, fresh.Host);
        Assert.NotSame(host, fresh.Host);
    }

    [Fact]
    public void ATraceContextIsCaptured_AndARepeatedTraceparentIsLeftToKestrel()
    {
        const string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        var request = Request(extra: $"traceparent: {parent}\r\ntracestate: vendor=1\r\n");

        Assert.Equal(UpgradeRequestHeadStatus.Upgrade, Read(request, out var head));
        Assert.Equal(parent, head.TraceParent);
        Assert.Equal("vendor=1", head.TraceState);
        Assert.Equal(UpgradeRequestHeadStatus.Upgrade, Read(Request(), out var plain));
        Assert.Null(plain.TraceParent);
        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, Read(Request(extra: $"traceparent: {parent}\r\nTraceparent: {parent}\r\n"), out _));
    }

    [Fact]
    public void HeaderNamesAndTheUpgradeTokensAreCaseInsensitive()
    {
        var request = "GET /devtools/browser HTTP/1.1\r\nhost: x\r\nCONNECTION: upgrade\r\nupgrade: WebSocket\r\n" +
            "sec-websocket-version: 13\r\nSEC-WEBSOCKET-KEY:" + Key + "  \r\n\r\n";

        Assert.Equal(UpgradeRequestHeadStatus.Upgrade, Read(request, out var head));
        Assert.Null(head.Query);
        Assert.Null(head.Origin);
    }

    [Theory]
    [InlineData("GET /devtools/browser/abc HTTP/1.1\r\nHost: x\r\n")]
    [InlineData("GET /devtools/browser/abc HTTP/1.1\r\nHost: x\r\n\r")]
    [InlineData("GET /dev")]
    [InlineData("")]
    public void WithoutTheBlankLineMoreIsNeeded(string partial) =>
        Assert.Equal(UpgradeRequestHeadStatus.Incomplete, Read(partial, out _));

    [Theory]
    [InlineData("POST /devtools/browser/abc HTTP/1.1")]
    [InlineData("get /devtools/browser/abc HTTP/1.1")]
    [InlineData("GET /devtools/browser/abc HTTP/1.0")]
    [InlineData("GET /devtools/browser/abc HTTP/2")]
    [InlineData("GET /json/version HTTP/1.1")]                          // discovery, whatever it carries
    [InlineData("GET / HTTP/1.1")]
    [InlineData("GET http://127.0.0.1/devtools/browser/abc HTTP/1.1")]  // absolute form
    [InlineData("GET /devtools/browser/a%62c HTTP/1.1")]                // an escape Kestrel decodes
    [InlineData("GET /devtools/page/../browser HTTP/1.1")]              // a dot segment Kestrel removes
    [InlineData("GET /devtools/./browser HTTP/1.1")]
    [InlineData("GET /devtools/browser/abc#frag HTTP/1.1")]
    [InlineData("GET /devtools/browser/abc?x=\"y\" HTTP/1.1")]
    [InlineData("GET  /devtools/browser/abc HTTP/1.1")]
    [InlineData("GET /devtools/browser/abc  HTTP/1.1")]
    public void AnyOtherRequestLineIsKestrels(string requestLine) =>
        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, Read(Request(requestLine), out _));

    [Theory]
    [InlineData("Host")]
    [InlineData("Connection")]
    [InlineData("Upgrade")]
    [InlineData("Sec-WebSocket-Version")]
    [InlineData("Sec-WebSocket-Key")]
    public void AnUpgradeWithoutOneOfItsHeadersIsKestrels(string missing) =>
        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, Read(Request(drop: missing), out _));

    [Theory]
    [InlineData("Host: second\r\n")]                          // each of these once only
    [InlineData("Upgrade: websocket\r\n")]
    [InlineData("Connection: upgrade\r\n")]
    [InlineData("Sec-WebSocket-Version: 13\r\n")]
    [InlineData("Sec-WebSocket-Key: " + Key + "\r\n")]
    [InlineData("Origin: a\r\nOrigin: b\r\n")]
    [InlineData("Authorization: a\r\nAuthorization: b\r\n")]
    [InlineData("X-Forwarded-Host: a\r\nX-Forwarded-Host: b\r\n")]
    [InlineData("Sec-Fetch-Site: none\r\nSec-Fetch-Site: cross-site\r\n")]
    [InlineData("Content-Length: 0\r\n")]                     // any framing of a body
    [InlineData("Transfer-Encoding: chunked\r\n")]
    [InlineData(" folded: value\r\n")]                        // obsolete line folding
    [InlineData("X-Thing : value\r\n")]                       // white space before the colon
    [InlineData("X-Thing\r\n")]
    [InlineData("X-Thing: caf\u00e9\r\n")]                     // not ASCII
    [InlineData("X-Thing: a\u0001b\r\n")]
    [InlineData("X-Thing: a\nb\r\n")]                         // a bare line feed
    [InlineData("X-Thing: a\rb\r\n")]
    public void AnythingUnusualAmongTheHeadersIsKestrels(string extra) =>
        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, Read(Request(extra: extra), out _));

    [Theory]
    [InlineData("Upgrade", "Upgrade: websocket, h2c")]
    [InlineData("Upgrade", "Upgrade: h2c")]
    [InlineData("Connection", "Connection: keep-alive")]
    [InlineData("Sec-WebSocket-Version", "Sec-WebSocket-Version: 12")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ=")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: not base64 at all!!!!!!")]
    [InlineData("Host", "Host: bad host")]
    [InlineData("Host", "Host:")]
    public void AHeaderWebSocketsWouldNotTakeIsKestrels(string header, string replacement) =>
        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, Read(Request(drop: header, extra: replacement + "\r\n"), out _));

    [Fact]
    public void AHeadLongerThanTheLimitIsKestrels()
    {
        var longHeader = "X-Padding: " + new string('a', UpgradeRequestHead.MaxBytes) + "\r\n";

        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, Read(Request(extra: longHeader), out _));
        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, Read(Request(extra: longHeader)[..UpgradeRequestHead.MaxBytes], out _));
    }

    [Fact]
    public void MoreThanAHundredHeadersAreKestrels()
    {
        var many = string.Concat(Enumerable.Range(0, 100).Select(i => $"X-{i}: v\r\n"));

        Assert.Equal(UpgradeRequestHeadStatus.ForKestrel, Read(Request(extra: many), out _));
    }
}
