using System.Collections.Concurrent;
using CdpGateway.Hosting;

namespace CdpGateway.Api.LiveView;

/// <summary>
/// Which open client connections were made to a named page (<c>/devtools/page/ID</c>), so the live view can draw their
/// input on that page: a <c>cdp_command</c> names its connection, not its target. Written once when a connection
/// starts and once when its <c>cdp_disconnect</c> is published (after its last commands), never per message; with
/// <c>--live-view</c> off it records nothing.
/// </summary>
public sealed class PageConnections(GatewayOptions options)
{
    private readonly ConcurrentDictionary<string, string> _pages = new(StringComparer.Ordinal);

    /// <summary>A connection to <paramref name="targetPath"/> began (a <c>/devtools/KIND/ID</c> path; null for the browser endpoint).</summary>
    public void Opened(string connectionId, string? targetPath)
    {
        if (!options.LiveView || targetPath is null)
        {
            return;
        }
        var slash = targetPath.LastIndexOf('/');
        if (slash >= 0 && slash < targetPath.Length - 1)
        {
            _pages[connectionId] = targetPath[(slash + 1)..];
        }
    }

    /// <summary>The connection's <c>cdp_disconnect</c> is being published: none of its commands comes after it.</summary>
    public void Closed(string connectionId)
    {
        if (options.LiveView)
        {
            _pages.TryRemove(connectionId, out _);
        }
    }

    /// <summary>The page a connection was made to; false for a browser connection or an unknown one.</summary>
    public bool TryGetPage(string connectionId, out string targetId) => _pages.TryGetValue(connectionId, out targetId!);
}
