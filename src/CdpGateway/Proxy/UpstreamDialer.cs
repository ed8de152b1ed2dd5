using System.Net;
using System.Net.Sockets;
using CdpGateway.Browser;
using CdpGateway.Proxy.Epoll;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Proxy;

/// <summary>The result of dialling: the upgraded upstream leg and the browser URL it belongs to, or a failure.</summary>
public readonly record struct DialResult(WebSocketLeg? Upstream, string BrowserUrl, string? Error)
{
    public bool Succeeded => Upstream is not null;

    /// <summary>How many connects were tried (for the dial's span).</summary>
    public int Attempts { get; init; }
}

/// <summary>
/// Opens the upstream leg. A browser connection retries for up to the dial window: after a failure
/// it first re-reads the current URL (a change may have been announced before we subscribed), then
/// waits for the next announced URL. A named target exists only on the browser that made it, so it
/// is dialled once.
/// </summary>
public sealed class UpstreamDialer(DevToolsUrlTracker tracker, TimeProvider time, ILogger<UpstreamDialer> logger)
{
    // The last URL's handshake, reused while the browser's URL stays the same (any thread may replace it).
    private UpstreamHandshake? _lastHandshake;

    public async Task<DialResult> DialAsync(
        UpgradeTarget target, string initialBrowserUrl, DevToolsUrlTracker.Subscription subscription,
        TimeSpan window, CancellationToken cancellationToken, EpollLoop? loop = null, bool inlineContinuations = false)
    {
        var browserUrl = initialBrowserUrl;
        using var deadline = new CancellationTokenSource(window, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        string? lastError = null;
        var attempts = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            attempts++;
            var url = target.UpstreamUrl(browserUrl);
            try
            {
                var handshake = UpstreamHandshake.For(url, Volatile.Read(ref _lastHandshake));
                Volatile.Write(ref _lastHandshake, handshake);
                var socket = await ConnectAsync(handshake, linked.Token, loop, inlineContinuations).ConfigureAwait(false);
                return new DialResult(socket, browserUrl, null) { Attempts = attempts };
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            catch (Exception ex)
            {
                lastError = deadline.IsCancellationRequested ? "no browser answered within " + window.TotalSeconds + " s" : ex.Message;
                // One attempt of several: the connection's own warning names the end of the dial if none succeeds.
                logger.LogDebug("Dialling {Url} failed: {Error}", url, ex.Message);
                tracker.ReportFailure(browserUrl);
            }
            if (!target.IsBrowser || deadline.IsCancellationRequested)
            {
                return new DialResult(null, browserUrl, lastError) { Attempts = attempts };
            }

            var current = tracker.Current;
            if (current.Length > 0 && current != browserUrl)
            {
                browserUrl = current;
                continue;
            }
            try
            {
                var next = await subscription.NextAsync(linked.Token).ConfigureAwait(false);
                if (next is null)
                {
                    return new DialResult(null, browserUrl, "gateway is stopping") { Attempts = attempts };
                }
                if (next.Length > 0)
                {
                    browserUrl = next;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new DialResult(null, browserUrl, "no browser answered within " + window.TotalSeconds + " s") { Attempts = attempts };
            }
        }
    }

    /// <summary>
    /// Opens the browser leg: a TCP connection with keepalive and no Nagle delay and a hand-written
    /// RFC 6455 upgrade (no compression offered, no subprotocol, no Origin). What follows is raw frames
    /// for the relay; bytes that came in right behind the 101 are handed to the leg to read first.
    /// </summary>
    /// <param name="loop">
    /// The epoll loop of the client's socket: the browser's socket then joins it (and the runtime's socket engine never
    /// waits on it), so the relay can drive both. Null: the runtime's sockets.
    /// </param>
    /// <param name="inlineContinuations">As the client's socket on that loop has it (see <see cref="LoopSocket"/>).</param>
    internal static Task<WebSocketLeg> ConnectAsync(string url, CancellationToken cancellationToken, EpollLoop? loop = null, bool inlineContinuations = false) =>
        ConnectAsync(UpstreamHandshake.For(url), cancellationToken, loop, inlineContinuations);

    private static async Task<WebSocketLeg> ConnectAsync(UpstreamHandshake handshake, CancellationToken cancellationToken, EpollLoop? loop, bool inlineContinuations)
    {
        var endPoint = handshake.EndPoint;
        var socket = endPoint is IPEndPoint address ? new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) : new Socket(SocketType.Stream, ProtocolType.Tcp);
        Stream? stream = null;
        // Ending the leg shuts the socket down rather than closing it under a pending read: the read then sees the end of
        // the stream (a value) instead of a disposed socket (an exception per connection).
        Action abort = socket.ShutDownQuietly;
        try
        {
            socket.NoDelay = true;
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            if (loop is null)
            {
                await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
                stream = new NetworkStream(socket, ownsSocket: true);
            }
            else
            {
                // The connect waits on the loop too: the runtime's engine would keep the socket for good once it had
                // waited on it, and a blocking connect would hold a pool thread while a remote host takes its time.
                var loopSocket = new LoopSocket(socket, loop, inlineContinuations);
                stream = new LoopSocketStream(loopSocket, ownsSocket: true);
                // The system call itself: a socket the peer has already reset answers ENOTCONN, which the runtime's
                // Shutdown turns into a thrown SocketException (often, in connection churn: see bench/README.md).
                abort = loopSocket.ShutDown;
                await ConnectOnLoopAsync(loopSocket, endPoint, cancellationToken).ConfigureAwait(false);
            }
            var leftover = await handshake.UpgradeAsync(stream, cancellationToken).ConfigureAwait(false);
            return new WebSocketLeg(stream, peerMasks: false, leftover, abort, disposeStream: true);
        }
        catch
        {
            // A stream on a loop lets go of the socket's descriptor before closing it.
            stream?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    private static async Task ConnectOnLoopAsync(LoopSocket socket, EndPoint endPoint, CancellationToken cancellationToken)
    {
        if (endPoint is IPEndPoint address)
        {
            await socket.ConnectAsync(address, cancellationToken).ConfigureAwait(false);
            return;
        }
        var named = (DnsEndPoint)endPoint;
        var addresses = await Dns.GetHostAddressesAsync(named.Host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }
        // A socket that failed to connect cannot try again, so one address: IPv4 first, where Chromium's DevTools
        // server listens by default (127.0.0.1), also when its URL names localhost.
        var first = addresses.OrderBy(a => a.AddressFamily == AddressFamily.InterNetworkV6 ? 1 : 0).First();
        await socket.ConnectAsync(new IPEndPoint(first, named.Port), cancellationToken).ConfigureAwait(false);
    }
}
