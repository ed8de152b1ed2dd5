using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Browser;
using CdpGateway.Hosting;
using CdpGateway.Proxy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace CdpGateway.Api.LiveView;

/// <summary>
/// The live view on the API port (behind its access rules, like every API request), only with <c>--live-view</c>:
/// <list type="bullet">
/// <item><c>GET /live</c>: whether the view is on, the screencasts running now with their viewers, and how many were started and stopped.</item>
/// <item><c>GET /live/targets</c>: the pages a viewer can pick (<c>id</c>, <c>url</c>, <c>title</c>), from Chromium's <c>/json/list</c>.</item>
/// <item><c>GET /live/{id}</c>, a WebSocket: the page's screencast frames as binary messages (<see cref="TargetScreencast.FrameMessage"/>)
/// and the clients' input on it as JSON text messages (<see cref="InputOverlay"/>), after a first text message
/// <c>{"type":"hello","target":{...}}</c>. The server closes it with a reason when the screencast ends.</item>
/// </list>
/// Without <c>--live-view</c> the pages and the stream are 404 (<c>GET /live</c> says <c>"enabled":false</c>) and nothing is started.
/// </summary>
public static class LiveViewEndpoints
{
    public const string OffMessage = "the live view is off: start the gateway with --live-view to watch pages";

    public static void Map(IEndpointRouteBuilder api)
    {
        var options = api.ServiceProvider.GetRequiredService<GatewayOptions>();
        // The status answers either way, so the dashboard learns whether to offer the view without a failing request.
        api.MapGet("/live", (HttpContext context) => StatusAsync(context, options.LiveView));
        api.MapGet("/live/targets", (HttpContext context) => options.LiveView ? TargetsAsync(context) : OffAsync(context));
        api.MapGet("/live/{targetId}", (HttpContext context, string targetId) => options.LiveView ? WatchAsync(context, targetId) : OffAsync(context));
    }

    /// <summary>What a target id may look like: Chromium's are 32 hex digits; anything else is refused before Chromium is asked.</summary>
    public static bool IsValidTargetId(string id) => id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static Task OffAsync(HttpContext context) => PlainAnswer.WriteAsync(context, StatusCodes.Status404NotFound, OffMessage);

    private static async Task StatusAsync(HttpContext context, bool enabled)
    {
        var hub = context.RequestServices.GetRequiredService<LiveViewHub>();
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteBoolean("enabled", enabled);
        writer.WriteNumber("screencasts_started", hub.ScreencastsStarted);
        writer.WriteNumber("screencasts_stopped", hub.ScreencastsStopped);
        writer.WriteBoolean("session_open", hub.SessionOpen);
        writer.WriteStartArray("screencasts");
        foreach (var (targetId, viewers, frames) in hub.Screencasts())
        {
            writer.WriteStartObject();
            writer.WriteString("target_id", targetId);
            writer.WriteNumber("viewers", viewers);
            writer.WriteNumber("frames", frames);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static async Task TargetsAsync(HttpContext context)
    {
        var pages = await PagesAsync(context).ConfigureAwait(false);
        if (pages is null)
        {
            return;
        }
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartArray();
        foreach (var page in pages)
        {
            page.WriteTo(writer);
        }
        writer.WriteEndArray();
    }

    private static async Task WatchAsync(HttpContext context, string targetId)
    {
        if (!IsValidTargetId(targetId))
        {
            await PlainAnswer.WriteAsync(context, StatusCodes.Status400BadRequest,
                "not a target id: 1 to 64 of A-Z a-z 0-9 - _ (pick one from GET /live/targets)").ConfigureAwait(false);
            return;
        }
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await PlainAnswer.WriteAsync(context, StatusCodes.Status400BadRequest,
                $"/live/{targetId} streams the page over a WebSocket: connect with a WebSocket upgrade").ConfigureAwait(false);
            return;
        }
        var pages = await PagesAsync(context).ConfigureAwait(false);
        if (pages is null)
        {
            return;
        }
        var page = pages.FirstOrDefault(p => p.Id == targetId);
        if (page is null)
        {
            await PlainAnswer.WriteAsync(context, StatusCodes.Status404NotFound,
                $"no page {targetId} in the current browser (GET /live/targets lists them)").ConfigureAwait(false);
            return;
        }
        var hub = context.RequestServices.GetRequiredService<LiveViewHub>();
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.FromSeconds(20) })
            .ConfigureAwait(false);
        LiveViewer viewer;
        try
        {
            viewer = await hub.JoinAsync(targetId, context.RequestAborted).ConfigureAwait(false);
        }
        catch (LiveViewException e)
        {
            await CloseAsync(socket, WebSocketCloseStatus.InternalServerError, e.Message).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException)
        {
            return;
        }
        try
        {
            await SendHelloAsync(socket, page, context.RequestAborted).ConfigureAwait(false);
            await PumpAsync(socket, viewer, context.RequestServices.GetRequiredService<GatewayLifetime>().StoppingTask, context.RequestAborted)
                .ConfigureAwait(false);
        }
        finally
        {
            await hub.LeaveAsync(viewer).ConfigureAwait(false);
        }
    }

    /// <summary>Sends what the viewer's queue holds until either side ends; the viewer's own messages are read and ignored.</summary>
    private static async Task PumpAsync(WebSocket socket, LiveViewer viewer, Task stopping, CancellationToken aborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var reading = ReadUntilCloseAsync(socket, stop.Token);
        try
        {
            while (true)
            {
                var next = viewer.NextBatchAsync(stop.Token).AsTask();
                var first = await Task.WhenAny(next, reading, stopping).ConfigureAwait(false);
                if (first == reading)
                {
                    break;
                }
                if (first == stopping)
                {
                    // Told at once, so a watching dashboard does not hold the gateway's shutdown up.
                    await CloseAsync(socket, WebSocketCloseStatus.EndpointUnavailable, "the gateway is stopping").ConfigureAwait(false);
                    return;
                }
                var batch = await next.ConfigureAwait(false);
                if (batch.Count == 0)
                {
                    await CloseAsync(socket, WebSocketCloseStatus.EndpointUnavailable, viewer.EndReason ?? "the screencast ended").ConfigureAwait(false);
                    return;
                }
                foreach (var message in batch)
                {
                    await socket.SendAsync(message.Data, message.Binary ? WebSocketMessageType.Binary : WebSocketMessageType.Text, true, stop.Token)
                        .ConfigureAwait(false);
                }
            }
            await CloseAsync(socket, WebSocketCloseStatus.NormalClosure, "bye").ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException)
        {
            // The viewer went away.
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await reading.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException)
            {
            }
        }
    }

    private static async Task ReadUntilCloseAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
        }
    }

    private static async Task CloseAsync(WebSocket socket, WebSocketCloseStatus status, string reason)
    {
        // A close reason is at most 123 bytes.
        var text = reason;
        while (Encoding.UTF8.GetByteCount(text) > 123)
        {
            text = text[..^1];
        }
        try
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await socket.CloseAsync(status, text, grace.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException)
        {
        }
    }

    private static async Task SendHelloAsync(WebSocket socket, LivePage page, CancellationToken cancellationToken)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "hello");
            writer.WritePropertyName("target");
            page.WriteTo(writer);
            writer.WriteEndObject();
        }
        await socket.SendAsync(output.WrittenMemory, WebSocketMessageType.Text, true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The current browser's pages from its <c>/json/list</c>; null after answering 503 or 502 itself.</summary>
    private static async Task<IReadOnlyList<LivePage>?> PagesAsync(HttpContext context)
    {
        var tracker = context.RequestServices.GetRequiredService<DevToolsUrlTracker>();
        var url = tracker.Current;
        if (url.Length == 0)
        {
            context.Response.Headers.RetryAfter = "1";
            await PlainAnswer.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                "no browser yet: Chromium has not announced its DevTools URL; retry shortly").ConfigureAwait(false);
            return null;
        }
        var browser = new Uri(url);
        var http = context.RequestServices.GetRequiredService<ChromiumDiscoveryClient>().Http;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var response = await http.GetAsync(new Uri($"http://{browser.Authority}/json/list"), timeout.Token).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            using var list = await JsonDocument.ParseAsync(body, cancellationToken: timeout.Token).ConfigureAwait(false);
            return LivePage.FromList(list.RootElement);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException && !context.RequestAborted.IsCancellationRequested)
        {
            await PlainAnswer.WriteAsync(context, StatusCodes.Status502BadGateway, $"the browser's page list could not be read: {e.Message}")
                .ConfigureAwait(false);
            return null;
        }
    }
}
