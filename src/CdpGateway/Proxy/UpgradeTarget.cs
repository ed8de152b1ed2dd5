namespace CdpGateway.Proxy;

/// <summary>
/// Where a client's upgrade goes: a named target (<c>/devtools/page/ID</c> and other non-browser
/// kinds) on the current Chromium, or the current browser endpoint for every other path, so a client
/// holding an old browser URL reaches the new browser.
/// </summary>
public readonly record struct UpgradeTarget(string Kind, string? TargetPath)
{
    public const string BrowserKind = "browser";
    public const string PageKind = "page";

    public bool IsBrowser => TargetPath is null;

    /// <summary>The named target's id, the path's last segment (<c>/devtools/page/ID</c>); none for the browser endpoint.</summary>
    public string? TargetId => TargetPath?[(TargetPath.LastIndexOf('/') + 1)..];

    /// <summary>The value reported as <c>target</c> in <c>cdp_connect</c>.</summary>
    public string TelemetryName => IsBrowser ? BrowserKind : PageKind;

    public static UpgradeTarget FromPath(string? path)
    {
        // /devtools/<kind>/<id>, exactly three segments, kind other than "browser".
        if (path is not null && path.StartsWith("/devtools/", StringComparison.Ordinal))
        {
            var rest = path.AsSpan("/devtools/".Length);
            var slash = rest.IndexOf('/');
            if (slash > 0 && slash < rest.Length - 1 && rest[(slash + 1)..].IndexOf('/') < 0)
            {
                var kind = rest[..slash].ToString();
                if (kind != BrowserKind)
                {
                    return new UpgradeTarget(kind, path);
                }
            }
        }
        return new UpgradeTarget(BrowserKind, null);
    }

    /// <summary>The upstream URL to dial given the current browser URL.</summary>
    public string UpstreamUrl(string browserUrl)
    {
        if (IsBrowser)
        {
            return browserUrl;
        }
        var uri = new Uri(browserUrl);
        return $"{uri.Scheme}://{uri.Authority}{TargetPath}";
    }
}
