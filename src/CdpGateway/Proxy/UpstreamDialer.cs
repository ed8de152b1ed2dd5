using System.Net.Sockets;
using System.Net.WebSockets;
using CdpGateway.Browser;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Proxy;

/// <summary>The result of dialling: the open socket and the browser URL it belongs to, or a failure.</summary>
public readonly record struct DialResult(WebSocket? Socket, string BrowserUrl, string? Error)
{
    public bool Succeeded => Socket is not null;
}

/// <summary>
/// Opens the upstream leg. A browser connection retries for up to the dial window: after a failure
/// it first re-reads the current URL (a change may have been announced before we subscribed), then
/// waits for the next announced URL. A named target exists only on the browser that made it, so it
/// is dialled once.
/// </summary>
public sealed class UpstreamDialer(DevToolsUrlTracker tracker, TimeProvider time, ILogger<UpstreamDialer> logger)
{
    private static readonly HttpMessageInvoker Invoker = new(new SocketsHttpHandler
    {
        ConnectCallback = ConnectWithKeepAliveAsync,
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(5),
    });

    public async Task<DialResult> DialAsync(
        UpgradeTarget target, string initialBrowserUrl, DevToolsUrlTracker.Subscription subscription,
        TimeSpan window, CancellationToken cancellationToken)
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
                var socket = await ConnectAsync(url, linked.Token).ConfigureAwait(false);
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

    private static async Task<WebSocket> ConnectAsync(string url, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        // No compression (it costs more than it saves on loopback), no pings (Chromium needs none).
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        socket.Options.DangerousDeflateOptions = null;
        try
        {
            await socket.ConnectAsync(new Uri(url), Invoker, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async ValueTask<Stream> ConnectWithKeepAliveAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
