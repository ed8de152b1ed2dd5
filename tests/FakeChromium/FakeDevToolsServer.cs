using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FakeChromium;

/// <summary>What the fake saw of one accepted WebSocket upgrade.</summary>
public sealed record UpgradeRequest(
    string Path,
    string QueryString,
    string? Host,
    string? Origin,
    string? SecWebSocketExtensions);

/// <summary>What the fake saw of any request: its method, its target as sent, and every header (repeats joined).</summary>
public sealed record SeenRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers);

/// <summary>
/// A stand-in for Chromium's DevTools HTTP + WebSocket server: discovery endpoints, browser and page
/// WebSocket endpoints that echo every message (except <c>Browser.getVersion</c>, which is answered).
/// </summary>
public sealed class FakeDevToolsServer : IAsyncDisposable
{
    public const string Product = "FakeChromium/1.0";
    public const int MaxMessageBytes = 300 * 1024 * 1024;
    private const string HostRejection = "Host header is specified and is not an IP address or localhost.";

    private static readonly byte[] GetVersionMarker = "Browser.getVersion"u8.ToArray();

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<Page> _pages = [];
    private readonly List<UpgradeRequest> _upgrades = [];
    private readonly List<SeenRequest> _requests = [];
    private string? _requestLog;
    private readonly List<(int Count, TaskCompletionSource Tcs)> _socketWaiters = [];
    private readonly ConcurrentDictionary<Session, byte> _sessions = new();
    private int _openSockets;
    private int _disposed;

    private FakeDevToolsServer(WebApplication app, string? browserId)
    {
        _app = app;
        BrowserId = browserId ?? Guid.NewGuid().ToString();
    }

    public int Port { get; private set; }
    public string BrowserId { get; }
    public string BrowserUrl => $"ws://127.0.0.1:{Port}/devtools/browser/{BrowserId}";

    public IReadOnlyList<string> PageIds
    {
        get
        {
            lock (_gate)
            {
                return _pages.Select(p => p.Id).ToArray();
            }
        }
    }

    public int OpenSockets => Volatile.Read(ref _openSockets);

    /// <summary>Every request the fake got, discovery and upgrades alike, in order.</summary>
    public IReadOnlyList<SeenRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return _requests.ToArray();
            }
        }
    }

    public IReadOnlyList<UpgradeRequest> Upgrades
    {
        get
        {
            lock (_gate)
            {
                return _upgrades.ToArray();
            }
        }
    }

    /// <param name="requestLog">A file to append each request to as one JSON line (for a fake in another process).</param>
    /// <param name="browserId">The id in the browser URL; a fake given a predecessor's port and id is that browser answering again.</param>
    public static async Task<FakeDevToolsServer> StartAsync(int port = 0, string? requestLog = null, string? browserId = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(FakeDevToolsServer).Assembly.GetName().Name,
            Args = [],
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port);
            k.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        var server = new FakeDevToolsServer(app, browserId) { _requestLog = requestLog };
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Run(server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Port = new Uri(address).Port;
        server.AddPage("about:blank");
        return server;
    }

    /// <summary>Completes once at least <paramref name="count"/> WebSocket sessions are open.</summary>
    public Task WaitForOpenSocketsAsync(int count, CancellationToken ct)
    {
        TaskCompletionSource tcs;
        lock (_gate)
        {
            if (_openSockets >= count)
            {
                return Task.CompletedTask;
            }
            tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _socketWaiters.Add((count, tcs));
        }
        return tcs.Task.WaitAsync(ct);
    }

    /// <summary>Simulates a crash: every WebSocket's TCP connection is reset without a close frame.</summary>
    public void AbortAll()
    {
        foreach (var session in _sessions.Keys)
        {
            try
            {
                session.Context.Abort();
            }
            catch (ObjectDisposedException)
            {
                // The session's request ended between the snapshot and the abort: nothing left to reset.
            }
        }
    }

    /// <summary>Sends a close frame on every open socket (the echo loop answers the peer's reply).</summary>
    public async Task CloseAllAsync(WebSocketCloseStatus status, string reason)
    {
        await Task.WhenAll(_sessions.Keys.Select(s => s.CloseOutputAsync(status, reason))).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        AbortAll();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private Page AddPage(string url)
    {
        var page = new Page(Guid.NewGuid().ToString("N").ToUpperInvariant(), url);
        lock (_gate)
        {
            _pages.Add(page);
        }
        return page;
    }

    private Page? FindPage(string id)
    {
        lock (_gate)
        {
            return _pages.FirstOrDefault(p => p.Id == id);
        }
    }

    private bool RemovePage(string id)
    {
        lock (_gate)
        {
            return _pages.RemoveAll(p => p.Id == id) > 0;
        }
    }

    private static bool IsAllowedHost(string? host)
    {
        if (string.IsNullOrEmpty(host))
        {
            return true; // Chromium only rejects a Host header that is present and not loopback-ish.
        }
        var name = host;
        if (name.StartsWith('['))
        {
            var end = name.IndexOf(']');
            name = end < 0 ? name : name[1..end];
        }
        else
        {
            var colon = name.LastIndexOf(':');
            if (colon >= 0)
            {
                name = name[..colon];
            }
        }
        return string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase) || IPAddress.TryParse(name, out _);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        Record(context);

        if (context.WebSockets.IsWebSocketRequest)
        {
            await HandleUpgradeAsync(context, path).ConfigureAwait(false);
            return;
        }

        if (!IsAllowedHost(request.Headers.Host.ToString()))
        {
            await WriteTextAsync(context, 500, HostRejection).ConfigureAwait(false);
            return;
        }

        if (!path.StartsWith("/json", StringComparison.Ordinal))
        {
            await WriteTextAsync(context, 404, "Unknown path").ConfigureAwait(false);
            return;
        }

        var command = path.Length > 5 && path[5] == '/' ? path[6..] : path[5..];
        if (command.Length > 0 && !path.StartsWith("/json/", StringComparison.Ordinal))
        {
            await WriteTextAsync(context, 404, "Unknown path").ConfigureAwait(false);
            return;
        }
        command = command.TrimEnd('/');
        var slash = command.IndexOf('/');
        var verb = slash < 0 ? command : command[..slash];
        var argument = slash < 0 ? "" : command[(slash + 1)..];

        switch (verb)
        {
            case "version" when argument.Length == 0:
                await WriteJsonAsync(context, new JsonObject
                {
                    ["Browser"] = Product,
                    ["Protocol-Version"] = "1.3",
                    ["User-Agent"] = "FakeChromium",
                    ["V8-Version"] = "0",
                    ["WebKit-Version"] = "0",
                    ["webSocketDebuggerUrl"] = BrowserUrl,
                }).ConfigureAwait(false);
                return;
            case "" or "list" when argument.Length == 0:
                {
                    Page[] pages;
                    lock (_gate)
                    {
                        pages = [.. _pages];
                    }
                    var array = new JsonArray();
                    foreach (var page in pages)
                    {
                        array.Add(PageJson(page));
                    }
                    await WriteJsonAsync(context, array).ConfigureAwait(false);
                    return;
                }
            case "protocol" when argument.Length == 0:
                await WriteJsonAsync(context, new JsonObject
                {
                    ["version"] = new JsonObject { ["major"] = "1", ["minor"] = "3" },
                    ["domains"] = new JsonArray(),
                }).ConfigureAwait(false);
                return;
            case "new" when argument.Length == 0:
                {
                    if (!HttpMethods.IsPut(request.Method))
                    {
                        await WriteTextAsync(context, 405,
                            $"Using unsafe HTTP verb {request.Method} to invoke /json/new. This action supports only PUT verb.").ConfigureAwait(false);
                        return;
                    }
                    var url = request.QueryString.HasValue ? Uri.UnescapeDataString(request.QueryString.Value![1..]) : "about:blank";
                    var page = AddPage(url.Length == 0 ? "about:blank" : url);
                    await WriteJsonAsync(context, PageJson(page)).ConfigureAwait(false);
                    return;
                }
            case "activate" when argument.Length > 0:
                if (FindPage(argument) is null)
                {
                    await WriteTextAsync(context, 404, $"No such target id: {argument}").ConfigureAwait(false);
                    return;
                }
                await WriteTextAsync(context, 200, "Target activated").ConfigureAwait(false);
                return;
            case "close" when argument.Length > 0:
                if (!RemovePage(argument))
                {
                    await WriteTextAsync(context, 404, $"No such target id: {argument}").ConfigureAwait(false);
                    return;
                }
                await WriteTextAsync(context, 200, "Target is closing").ConfigureAwait(false);
                return;
            default:
                await WriteTextAsync(context, 404, $"Unknown command: {command}").ConfigureAwait(false);
                return;
        }
    }

    private void Record(HttpContext context)
    {
        var target = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? context.Request.Path + context.Request.QueryString;
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var seen = new SeenRequest(context.Request.Method, target, headers);
        lock (_gate)
        {
            _requests.Add(seen);
            if (_requestLog is not null)
            {
                var line = new JsonObject
                {
                    ["method"] = seen.Method,
                    ["target"] = seen.Target,
                    ["headers"] = new JsonObject(headers.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)JsonValue.Create(h.Value)))),
                };
                File.AppendAllText(_requestLog, line.ToJsonString() + "\n");
            }
        }
    }

    private JsonObject PageJson(Page page) => new()
    {
        ["description"] = "",
        ["devtoolsFrontendUrl"] = $"/devtools/inspector.html?ws=127.0.0.1:{Port}/devtools/page/{page.Id}",
        ["id"] = page.Id,
        ["title"] = page.Url,
        ["type"] = "page",
        ["url"] = page.Url,
        ["webSocketDebuggerUrl"] = $"ws://127.0.0.1:{Port}/devtools/page/{page.Id}",
    };

    private static async Task WriteTextAsync(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html";
        await context.Response.WriteAsync(body).ConfigureAwait(false);
    }

    private static async Task WriteJsonAsync(HttpContext context, JsonNode node)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json; charset=UTF-8";
        await context.Response.WriteAsync(node.ToJsonString(new JsonSerializerOptions { WriteIndented = true })).ConfigureAwait(false);
    }

    private async Task HandleUpgradeAsync(HttpContext context, string path)
    {
        var known = path == $"/devtools/browser/{BrowserId}"
            || (path.StartsWith("/devtools/page/", StringComparison.Ordinal) && FindPage(path["/devtools/page/".Length..]) is not null);
        if (!known)
        {
            context.Response.StatusCode = 404;
            await context.Response.WriteAsync("Unknown path").ConfigureAwait(false);
            return;
        }

        var headers = context.Request.Headers;
        lock (_gate)
        {
            _upgrades.Add(new UpgradeRequest(
                path,
                context.Request.QueryString.Value ?? "",
                headers.Host.Count == 0 ? null : headers.Host.ToString(),
                headers.Origin.Count == 0 ? null : headers.Origin.ToString(),
                headers.SecWebSocketExtensions.Count == 0 ? null : headers.SecWebSocketExtensions.ToString()));
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            DangerousEnableCompression = false,
            KeepAliveInterval = TimeSpan.Zero,
        }).ConfigureAwait(false);
        var session = new Session(context, socket);
        _sessions[session] = 0;
        ChangeOpenSockets(+1);
        try
        {
            await session.EchoAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // The peer went away or the fake was told to crash: nothing to clean up beyond the socket.
        }
        finally
        {
            _sessions.TryRemove(session, out _);
            ChangeOpenSockets(-1);
        }
    }

    private void ChangeOpenSockets(int delta)
    {
        List<TaskCompletionSource>? ready = null;
        lock (_gate)
        {
            _openSockets += delta;
            for (var i = _socketWaiters.Count - 1; i >= 0; i--)
            {
                if (_openSockets >= _socketWaiters[i].Count)
                {
                    (ready ??= []).Add(_socketWaiters[i].Tcs);
                    _socketWaiters.RemoveAt(i);
                }
            }
        }
        ready?.ForEach(t => t.TrySetResult());
    }

    private sealed record Page(string Id, string Url);

    private sealed class Session(HttpContext context, WebSocket socket)
    {
        private readonly SemaphoreSlim _sendLock = new(1, 1);

        public HttpContext Context { get; } = context;

        public async Task CloseOutputAsync(WebSocketCloseStatus status, string reason)
        {
            await _sendLock.WaitAsync().ConfigureAwait(false);
            try
            {
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync(status, reason, CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public async Task EchoAsync(CancellationToken ct)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                while (true)
                {
                    var length = 0;
                    ValueWebSocketReceiveResult result;
                    do
                    {
                        if (length == buffer.Length)
                        {
                            if (buffer.Length >= MaxMessageBytes)
                            {
                                await CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "message too big").ConfigureAwait(false);
                                return;
                            }
                            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, MaxMessageBytes));
                            buffer.AsSpan(0, length).CopyTo(bigger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = bigger;
                        }
                        result = await socket.ReceiveAsync(buffer.AsMemory(length), ct).ConfigureAwait(false);
                        length += result.Count;
                    }
                    while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        if (socket.State == WebSocketState.CloseReceived)
                        {
                            var status = socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure;
                            if (status == WebSocketCloseStatus.Empty)
                            {
                                status = WebSocketCloseStatus.NormalClosure;
                            }
                            await CloseOutputAsync(status, socket.CloseStatusDescription ?? "").ConfigureAwait(false);
                        }
                        return;
                    }

                    var message = buffer.AsMemory(0, length);
                    ReadOnlyMemory<byte> reply = message;
                    if (result.MessageType == WebSocketMessageType.Text && TryAnswer(message) is { } answer)
                    {
                        reply = answer;
                    }
                    await _sendLock.WaitAsync(ct).ConfigureAwait(false);
                    try
                    {
                        if (socket.State != WebSocketState.Open)
                        {
                            continue; // we already sent a close frame; keep reading until the peer answers it
                        }
                        await socket.SendAsync(reply, result.MessageType, endOfMessage: true, ct).ConfigureAwait(false);
                    }
                    finally
                    {
                        _sendLock.Release();
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        private static byte[]? TryAnswer(ReadOnlyMemory<byte> message)
        {
            if (message.Span.IndexOf(GetVersionMarker) < 0)
            {
                return null;
            }
            try
            {
                using var doc = JsonDocument.Parse(message);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object
                    || !root.TryGetProperty("method", out var method)
                    || method.ValueKind != JsonValueKind.String
                    || method.GetString() != "Browser.getVersion")
                {
                    return null;
                }
                var id = root.TryGetProperty("id", out var idElement) ? idElement.GetRawText() : "null";
                return Encoding.UTF8.GetBytes(
                    "{\"id\":" + id + ",\"result\":{\"protocolVersion\":\"1.3\",\"product\":\"" + Product +
                    "\",\"revision\":\"0\",\"userAgent\":\"FakeChromium\",\"jsVersion\":\"0\"}}");
            }
            catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
            {
                return null;
            }
        }
    }
}
