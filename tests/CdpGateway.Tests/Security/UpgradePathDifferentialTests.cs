using CdpGateway.Tests.EndToEnd;
using Xunit.Abstractions;
using static CdpGateway.Tests.Security.GatewayUnderTest;

namespace CdpGateway.Tests.Security;

/// <summary>
/// The CDP port answers plain upgrades on its epoll loops and leaves the rest to Kestrel; both ask the same access
/// policy. The same raw upgrades, sent to a gateway with its loop path and to one without it
/// (<c>CDPGW_EPOLL_RELAY=0</c>: every request through Kestrel), must get the same status line.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class UpgradePathDifferentialTests(ITestOutputHelper output)
{
    private const string Token = "s3cret";

    /// <summary>Target, Host, extra header lines, and the status both paths must agree on.</summary>
    private static readonly (string Target, string Host, string Headers, int Status)[] Cases =
    [
        ("/devtools/browser/any", "127.0.0.1", "", 401),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "", 101),
        ("/devtools/browser/any", "127.0.0.1", "Authorization: Bearer s3cret\r\n", 101),
        ("/devtools/browser/any", "127.0.0.1", "Authorization: bearer   s3cret \r\n", 101),
        ("/devtools/browser/any", "127.0.0.1", "Authorization: Bearer s3cre\r\n", 401),
        ("/devtools/browser/any", "127.0.0.1", "Authorization: Basic s3cret\r\n", 401),
        ("/devtools/browser/any?token=s3cr%65t", "127.0.0.1", "", 101),
        ("/devtools/browser/any?to%6Ben=s3cret", "127.0.0.1", "", 101),
        ("/devtools/browser/any?TOKEN=s3cret", "127.0.0.1", "", 101),
        ("/devtools/browser/any?token=s3cret+", "127.0.0.1", "", 401),
        ("/devtools/browser/any?token=s3+cret", "127.0.0.1", "", 401),
        ("/devtools/browser/any?token=s3cret&token=s3cret", "127.0.0.1", "", 401),
        ("/devtools/browser/any?token=wrong&token=s3cret", "127.0.0.1", "", 401),
        ("/devtools/browser/any?a=1&token=s3cret&b=%zz", "127.0.0.1", "", 101),
        ("/devtools/browser/any?token=", "127.0.0.1", "", 401),
        ("/devtools/browser/any?token", "127.0.0.1", "", 401),
        ("/devtools/browser/any?token=wrong", "127.0.0.1", "Authorization: Bearer s3cret\r\n", 101),
        ("/devtools/browser/an%79?token=s3cret", "127.0.0.1", "", 101),
        ("/devtools/browser/any?token=s3cret", "localhost:9222", "", 101),
        ("/devtools/browser/any?token=s3cret", "[::1]:9222", "", 101),
        ("/devtools/browser/any?token=s3cret", "gw.test", "", 101),
        ("/devtools/browser/any?token=s3cret", "evil.example", "", 403),
        ("/devtools/browser/any?token=s3cret", "localhost.", "", 403),
        ("/devtools/browser/any", "evil.example:9222", "", 403),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "X-Forwarded-Host: gw.test\r\n", 101),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "X-Forwarded-Host: evil.example\r\n", 403),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "X-Forwarded-Host: gw.test, evil.example\r\n", 403),
        ("/devtools/browser/any?token=s3cret", "evil.example", "X-Forwarded-Host: gw.test\r\n", 403),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "X-Forwarded-Host: a.test\r\nX-Forwarded-Host: gw.test\r\n", 403),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "Origin: http://ok.example\r\n", 101),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "Origin: http://ok.example/\r\n", 101),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "Origin: http://evil.example\r\n", 403),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "Origin: null\r\n", 403),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1:1", "Origin: http://127.0.0.1:1\r\n", 101),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "Origin: http://ok.example\r\nOrigin: http://ok.example\r\n", 403),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "Sec-Fetch-Site: cross-site\r\n", 403),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "Sec-Fetch-Site: same-origin\r\n", 101),
        ("/devtools/browser/any?token=s3cret", "127.0.0.1", "Sec-Fetch-Site: cross-site\r\nOrigin: http://ok.example\r\n", 101),
        ("/devtools/browser/any", "evil.example", "Origin: http://evil.example\r\n", 403),
        ("/devtools/browser/any", "127.0.0.1", "Origin: http://evil.example\r\n", 403),
    ];

    [Fact]
    public async Task TheLoopAndKestrelDecideEveryUpgradeAlike()
    {
        string[] args = ["--allowed-origins", "http://ok.example", "--allowed-hosts", "gw.test", "--trust-forwarded-headers"];
        await using var loop = await StartAsync(output, Token, args);
        await using var kestrel = await StartAsync(output, Token, args, new Dictionary<string, string> { ["CDPGW_EPOLL_RELAY"] = "0" });

        var differences = new List<string>();
        foreach (var (target, host, headers, status) in Cases)
        {
            var onLoop = await UpgradeStatusLineAsync(loop.CdpPort, target, host, headers);
            var onKestrel = await UpgradeStatusLineAsync(kestrel.CdpPort, target, host, headers);
            var expected = $"HTTP/1.1 {status} ";
            if (onLoop != onKestrel || !onLoop.StartsWith(expected, StringComparison.Ordinal))
            {
                differences.Add($"{target} Host: {host} {headers.Replace("\r\n", "; ")}=> loop '{onLoop}', Kestrel '{onKestrel}', wanted {status}");
            }
        }

        Assert.True(differences.Count == 0, string.Join('\n', differences));
    }
}
