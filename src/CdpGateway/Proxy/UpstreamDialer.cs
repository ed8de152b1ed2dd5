using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using CdpGateway.Browser;
using CdpGateway.Proxy.Epoll;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Proxy;

/// <summary>The result of dialling: the upgraded upstream leg and the browser URL it belongs to, or a failure.</summary>
public readonly record struct DialResult(WebSocketLeg? Upstream, string BrowserUrl, string? Error)
{
    public bool Succeeded => Upstream is not null;
}

/// <summary>
/// Opens the upstream leg. A browser connection retries for up to the dial window: after a failure
/// it first re-reads the current URL (a change may have been announced before we subscribed), then
/// waits for the next announced URL. A named target exists only on the browser that made it, so it
/// is dialled once.
/// </summary>
public sealed class UpstreamDialer(DevToolsUrlTracker tracker, TimeProvider time, ILogger<UpstreamDialer> logger)
{
    public async Task<DialResult> DialAsync(
        UpgradeTarget target, string initialBrowserUrl, DevToolsUrlTracker.Subscription subscription,
        TimeSpan window, CancellationToken cancellationToken, EpollLoop? loop = null, bool inlineContinuations = false)
    {
        var browserUrl = initialBrowserUrl;
        using var deadline = new CancellationTokenSource(window, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        string? lastError = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var url = target.UpstreamUrl(browserUrl);
            try
            {
                var socket = await ConnectAsync(url, linked.Token, loop, inlineContinuations).ConfigureAwait(false);
                return new DialResult(socket, browserUrl, null);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
            catch (Exception ex)
            {
                lastError = deadline.IsCancellationRequested ? "no browser answered within " + window.TotalSeconds + " s" : ex.Message;
                logger.LogWarning("Dialling {Url} failed: {Error}", url, ex.Message);
            }
            if (!target.IsBrowser || deadline.IsCancellationRequested)
            {
                return new DialResult(null, browserUrl, lastError);
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
                    return new DialResult(null, browserUrl, "gateway is stopping");
                }
                if (next.Length > 0)
                {
                    browserUrl = next;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new DialResult(null, browserUrl, "no browser answered within " + window.TotalSeconds + " s");
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
    internal static async Task<WebSocketLeg> ConnectAsync(string url, CancellationToken cancellationToken, EpollLoop? loop = null, bool inlineContinuations = false)
    {
        var uri = new Uri(url);
        if (uri.Scheme != "ws")
        {
            throw new WebSocketException(WebSocketError.NotAWebSocket, $"unsupported upstream scheme '{uri.Scheme}' (Chromium's DevTools URLs are ws://)");
        }
        // An address (Chromium's URLs carry one) gets a socket of its own family; a name, a dual-mode one.
        EndPoint endPoint = IPAddress.TryParse(uri.IdnHost, out var address)
            ? new IPEndPoint(address, uri.Port)
            : new DnsEndPoint(uri.IdnHost, uri.Port);
        var socket = address is null ? new Socket(SocketType.Stream, ProtocolType.Tcp) : new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        Stream? stream = null;
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
                await ConnectOnLoopAsync(loopSocket, endPoint, cancellationToken).ConfigureAwait(false);
            }
            var leftover = await UpgradeAsync(stream, uri, cancellationToken).ConfigureAwait(false);
            // Ending the leg shuts the socket down rather than closing it under a pending read: the read then sees
            // the end of the stream (a value) instead of a disposed socket (an exception per connection).
            return new WebSocketLeg(stream, peerMasks: false, leftover, abort: socket.ShutDownQuietly, disposeStream: true);
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

    private const int MaxUpgradeResponseBytes = 16 * 1024;
    private const string WebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>Sends the upgrade request and checks the 101 answer; returns bytes read past its end.</summary>
    private static async Task<byte[]> UpgradeAsync(Stream stream, Uri uri, CancellationToken cancellationToken)
    {
        Span<byte> nonce = stackalloc byte[16];
        RandomNumberGenerator.Fill(nonce);
        var key = Convert.ToBase64String(nonce);
        var request = "GET " + uri.PathAndQuery + " HTTP/1.1\r\nHost: " + uri.Authority +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
            "\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cancellationToken).ConfigureAwait(false);

        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            var length = 0;
            int headerEnd;
            while ((headerEnd = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (length == buffer.Length)
                {
                    if (length >= MaxUpgradeResponseBytes)
                    {
                        throw new WebSocketException(WebSocketError.HeaderError, "the upstream's upgrade answer is too long");
                    }
                    var bigger = ArrayPool<byte>.Shared.Rent(length * 2);
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "the upstream closed the connection during the WebSocket upgrade");
                }
                length += read;
            }
            CheckUpgradeAnswer(Encoding.Latin1.GetString(buffer, 0, headerEnd), key);
            return buffer.AsSpan(headerEnd + 4, length - headerEnd - 4).ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void CheckUpgradeAnswer(string head, string key)
    {
        var lines = head.Split("\r\n");
        var status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || status[1] != "101")
        {
            throw new WebSocketException(WebSocketError.NotAWebSocket,
                $"The server returned status code '{(status.Length >= 2 ? status[1] : lines[0])}' when status code '101' was expected.");
        }
        var expectedAccept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + WebSocketGuid)));
        string? accept = null;
        for (var i = 1; i < lines.Length; i++)
        {
            var colon = lines[i].IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            var name = lines[i].AsSpan(0, colon).Trim();
            var value = lines[i].AsSpan(colon + 1).Trim();
            if (name.Equals("Sec-WebSocket-Accept", StringComparison.OrdinalIgnoreCase))
            {
                accept = value.ToString();
            }
            else if (name.Equals("Sec-WebSocket-Extensions", StringComparison.OrdinalIgnoreCase) && !value.IsEmpty)
            {
                // We offered none; an extension we did not ask for would change the framing.
                throw new WebSocketException(WebSocketError.HeaderError, $"the upstream answered with an extension the gateway did not offer: {value}");
            }
        }
        if (accept != expectedAccept)
        {
            throw new WebSocketException(WebSocketError.HeaderError, "the upstream's Sec-WebSocket-Accept does not match the key sent");
        }
    }
}
