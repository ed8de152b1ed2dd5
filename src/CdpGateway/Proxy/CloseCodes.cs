using System.Net.WebSockets;

namespace CdpGateway.Proxy;

/// <summary>What a client is told when the gateway ends its socket (SPEC §3).</summary>
public static class CloseCodes
{
    public const WebSocketCloseStatus BrowserRestarted = (WebSocketCloseStatus)1012;
    public const string BrowserRestartedText = "browser restarted";
    public const string UpstreamErrorText = "upstream_error";
    public const string ShuttingDownText = "gateway shutting down";
    public const string RequestCancelledText = "request cancelled";
    public const string TooBigText = "message too big";

    /// <summary>Followed by what the client's frame got wrong ("client frames must be masked").</summary>
    public const string ProtocolErrorText = "protocol error: ";
}
