using CdpGateway.Proxy.Transport;
using System.Text;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace CdpGateway.Proxy;

/// <summary>
/// The server half of the client's WebSocket handshake (RFC 6455 §4.2.2), done here instead of by
/// <c>AcceptWebSocketAsync</c> so the relay gets the raw duplex stream and forwards frames as they
/// are. Which requests qualify stays <c>context.WebSockets.IsWebSocketRequest</c>'s decision (GET,
/// <c>Connection: Upgrade</c>, <c>Upgrade: websocket</c>, version 13, a key of 16 base64 bytes). The
/// answer offers no extension and no subprotocol.
/// </summary>
public static class ClientHandshake
{
    /// <summary>Answers 101 and returns the client's leg.</summary>
    public static async Task<WebSocketLeg> AcceptAsync(HttpContext context)
    {
        // Only HTTP/1.1 upgrades get here: the CDP port is plaintext, where Kestrel answers an HTTP/2
        // attempt with HTTP_1_1_REQUIRED, so there is no extended CONNECT to accept.
        var upgrade = context.Features.Get<IHttpUpgradeFeature>()
            ?? throw new InvalidOperationException("the server offers no HTTP upgrade");
        var key = context.Request.Headers[HeaderNames.SecWebSocketKey].ToString();
        var headers = context.Response.Headers;
        headers.Connection = "Upgrade";
        headers.Upgrade = "websocket";
        headers[HeaderNames.SecWebSocketAccept] = AcceptFor(key);
        var stream = await upgrade.UpgradeAsync().ConfigureAwait(false);
        if (context.Features.Get<CdpSocketConnection>() is { } connection && connection.TryTakeOver(out var socketStream, out var buffered))
        {
            // The relay drives the socket itself from here; Kestrel closes it when the request ends.
            return new WebSocketLeg(socketStream, peerMasks: true, buffered, abort: () => connection.Abort());
        }
        // A read in flight on Kestrel's upgraded stream is not woken by CancelPendingRead (tried); only
        // aborting the connection ends it, so the handler aborts only a client that is not answering.
        return new WebSocketLeg(stream, peerMasks: true, abort: context.Abort, socket: context.Features.Get<IConnectionSocketFeature>()?.Socket);
    }

    /// <summary>The <c>Sec-WebSocket-Accept</c> value for a client's key.</summary>
    public static string AcceptFor(string key) =>
        Encoding.ASCII.GetString(WebSocketAccept.Write(key, stackalloc byte[WebSocketAccept.Length]));
}
