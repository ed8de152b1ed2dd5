using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CdpGateway.Browser;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CdpGateway.Proxy;

/// <summary>
/// Chromium's HTTP discovery endpoints, answered from the current Chromium and rewritten so every
/// WebSocket URL in them points at the gateway as the client addressed it.
/// </summary>
public static class DiscoveryEndpoints
{
    /// <summary>The one discovery command Chromium refuses by method: creating a target takes PUT, so no page can do it.</summary>
    private const string NewPath = "/json/new";

    public static void Map(IEndpointRouteBuilder cdp)
    {
        // Chromium answers its discovery commands whatever the method (HEAD, POST, OPTIONS), so every method is taken
        // here. Routing matches a trailing slash too ("/json/list/", which Playwright asks for).
        foreach (var path in new[] { "/json/version", "/json/list", "/json/protocol" })
        {
            cdp.Map(path, (HttpContext c) => Exactly(c, path) ? ForwardAsync(c, path) : NotFoundAsync(c));
        }
        cdp.Map("/json", (HttpContext c) => Exactly(c, "/json") ? ForwardAsync(c, "/json/list") : NotFoundAsync(c));
        cdp.Map(NewPath, (HttpContext c) => Exactly(c, NewPath) ? NewAsync(c) : NotFoundAsync(c));
        cdp.Map("/json/activate/{id}", (HttpContext c, string id) =>
            Exactly(c, "/json/activate/" + id) ? ForwardAsync(c, "/json/activate/" + Uri.EscapeDataString(id)) : NotFoundAsync(c));
        cdp.Map("/json/close/{id}", (HttpContext c, string id) =>
            Exactly(c, "/json/close/" + id) ? ForwardAsync(c, "/json/close/" + Uri.EscapeDataString(id)) : NotFoundAsync(c));
    }

    /// <summary>
    /// Routing matches paths in any case; Chromium's DevTools port does not (<c>/JSON/VERSION</c> is not found there), and
    /// a client must see the same answers through the gateway. A trailing slash is taken, as routing takes it.
    /// </summary>
    private static bool Exactly(HttpContext context, string path)
    {
        var asked = context.Request.Path.Value ?? "";
        return asked.Length > 1 && asked[^1] == '/' ? asked.AsSpan(0, asked.Length - 1).SequenceEqual(path) : asked == path;
    }

    /// <summary>
    /// A plain request to a path that is neither discovery nor a WebSocket endpoint: 404, as Chromium answers an
    /// unknown command or path, and without asking Chromium, so the answer holds whether a browser is up or not.
    /// </summary>
    public static Task NotFoundAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        var message = path.StartsWith("/json", StringComparison.Ordinal)
            ? $"unknown discovery command {path}: the DevTools port answers /json/version, /json/list, /json/protocol, /json/new, /json/activate/ID and /json/close/ID"
            : $"{path} is not found: the DevTools port answers discovery at /json/version and WebSocket upgrades to /devtools/...";
        return PlainAnswer.WriteAsync(context, StatusCodes.Status404NotFound, message);
    }

    private static Task NewAsync(HttpContext context)
    {
        if (!HttpMethods.IsPut(context.Request.Method))
        {
            // Chromium's own refusal, given without a browser: it depends on nothing but the method.
            context.Response.Headers.Allow = "PUT";
            return PlainAnswer.WriteAsync(context, StatusCodes.Status405MethodNotAllowed,
                $"Using unsafe HTTP verb {context.Request.Method} to invoke /json/new. This action supports only PUT verb.");
        }
        return ForwardAsync(context, NewPath);
    }

    private static async Task ForwardAsync(HttpContext context, string path)
    {
        var tracker = context.RequestServices.GetRequiredService<DevToolsUrlTracker>();
        var current = tracker.Current;
        if (current.Length == 0)
        {
            await NoBrowserAsync(context, "no browser yet: Chromium has not announced its DevTools URL; retry shortly").ConfigureAwait(false);
            return;
        }
        var browser = new Uri(current);
        // The URL's own authority is a loopback address, which is the Host Chromium insists on. The request is a new one:
        // none of the client's headers (Authorization, Cookie) and none of its token parameters go to Chromium. Its
        // method is GET but for /json/new: Chromium ignores the method elsewhere, and a HEAD would have the client
        // expect no body where Chromium sends one.
        var upstream = new Uri($"http://{browser.Authority}{path}{WithoutToken(context.Request.QueryString.Value)}");
        HttpResponseMessage response;
        try
        {
            using var request = new HttpRequestMessage(path == NewPath ? HttpMethod.Put : HttpMethod.Get, upstream);
            response = await context.RequestServices.GetRequiredService<ChromiumDiscoveryClient>().Http
                .SendAsync(request, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }
            var browserReplaced = tracker.Current != current;
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DiscoveryEndpoints));
            if (NoBrowserAnswered(ex, browserReplaced))
            {
                // A browser between crash and successor is a state /health and the chromium_* events report; a client
                // polling discovery through it must not turn each poll into a warning.
                logger.LogDebug("Discovery request {Path}: no browser answers yet: {Error}", path, ex.Message);
                await NoBrowserAsync(context, $"no browser answers yet (Chromium is starting or restarting): {ex.Message}; retry shortly").ConfigureAwait(false);
                return;
            }
            logger.LogWarning("Discovery request {Path} to Chromium failed: {Error}", path, ex.Message);
            await PlainAnswer.WriteAsync(context, StatusCodes.Status502BadGateway,
                $"Chromium did not answer {path}: {ex.Message}").ConfigureAwait(false);
            return;
        }
        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(context.RequestAborted).ConfigureAwait(false);
            context.Response.StatusCode = (int)response.StatusCode;
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (response.StatusCode == HttpStatusCode.OK && TryRewrite(body, GatewayAddress.Of(context)) is { } rewritten)
            {
                context.Response.ContentType = "application/json; charset=UTF-8";
                await context.Response.Body.WriteAsync(rewritten, context.RequestAborted).ConfigureAwait(false);
                return;
            }
            if (mediaType is not null)
            {
                context.Response.ContentType = response.Content.Headers.ContentType!.ToString();
            }
            await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether a failed request to Chromium means there is no browser to answer (yet): the connection was refused or
    /// could not be made (a crashed browser's port between its death and its successor's announcement, or an announced
    /// one not listening yet), or the browser asked was replaced while it was asked. Those are 503, as before any browser
    /// was announced, since a retry reaches the next one. A browser that took the request and then broke the answer,
    /// closed the connection without one or stayed silent past the timeout is still the current one: that is 502, a
    /// browser that misbehaves, which retrying does not cure.
    /// </summary>
    internal static bool NoBrowserAnswered(Exception failure, bool browserReplaced) =>
        browserReplaced || failure is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };

    private static Task NoBrowserAsync(HttpContext context, string message)
    {
        context.Response.Headers.RetryAfter = "1";
        return PlainAnswer.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, message);
    }

    /// <summary>
    /// The query less every parameter the gateway reads as a token (its name decoded as ASP.NET Core decodes it, any
    /// case); every other byte stays as sent, since <c>/json/new?URL</c> hands Chromium the query itself.
    /// </summary>
    internal static string WithoutToken(string? query)
    {
        if (string.IsNullOrEmpty(query) || query.IndexOf("to", StringComparison.OrdinalIgnoreCase) < 0 && query.IndexOf('%') < 0)
        {
            return query ?? "";
        }
        var body = query.StartsWith('?') ? query[1..] : query;
        var kept = body.Split('&').Where(part => !IsTokenParameter(part)).ToArray();
        return kept.Length == 0 ? "" : "?" + string.Join('&', kept);
    }

    private static bool IsTokenParameter(string part)
    {
        var equals = part.IndexOf('=');
        var name = equals < 0 ? part : part[..equals];
        return Uri.UnescapeDataString(name.Replace('+', ' ')).Equals("token", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Rewrites the JSON's WebSocket URLs to the gateway; null when the body is not JSON.</summary>
    internal static byte[]? TryRewrite(byte[] body, GatewayAddress address)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            return null;
        }
        if (root is null)
        {
            return null;
        }
        Rewrite(root, address);
        return JsonSerializer.SerializeToUtf8Bytes(root, DiscoveryJsonContext.Default.JsonNode);
    }

    private static void Rewrite(JsonNode node, GatewayAddress address)
    {
        switch (node)
        {
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is not null)
                    {
                        Rewrite(item, address);
                    }
                }
                break;
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (value is JsonValue v && v.TryGetValue<string>(out var text))
                    {
                        if (key == "webSocketDebuggerUrl")
                        {
                            obj[key] = RewriteWebSocketUrl(text, address);
                        }
                        else if (key == "devtoolsFrontendUrl")
                        {
                            obj[key] = RewriteFrontendUrl(text, address);
                        }
                    }
                    else if (value is not null)
                    {
                        Rewrite(value, address);
                    }
                }
                break;
        }
    }

    internal static string RewriteWebSocketUrl(string url, GatewayAddress address) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{address.Scheme}://{address.Authority}{address.WithToken(uri.AbsolutePath)}" : url;

    /// <summary>Replaces the authority inside the <c>ws=</c> (or <c>wss=</c>) parameter, keeping its path.</summary>
    internal static string RewriteFrontendUrl(string url, GatewayAddress address)
    {
        var query = url.IndexOf('?');
        if (query < 0)
        {
            return url;
        }
        var parts = url[(query + 1)..].Split('&');
        for (var i = 0; i < parts.Length; i++)
        {
            var eq = parts[i].IndexOf('=');
            if (eq < 0)
            {
                continue;
            }
            var name = parts[i][..eq];
            if (name is not ("ws" or "wss"))
            {
                continue;
            }
            var value = Uri.UnescapeDataString(parts[i][(eq + 1)..]);
            var slash = value.IndexOf('/');
            var pathPart = slash < 0 ? "" : value[slash..];
            var target = address.Authority + address.WithToken(pathPart);
            parts[i] = address.Scheme + "=" + (address.Token is null ? target : Uri.EscapeDataString(target));
        }
        return url[..(query + 1)] + string.Join('&', parts);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonNode))]
internal sealed partial class DiscoveryJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
