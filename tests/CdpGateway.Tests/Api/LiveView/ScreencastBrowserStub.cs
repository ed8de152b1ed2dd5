using System.Collections.Concurrent;
using System.Net;
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

namespace CdpGateway.Tests.Api.LiveView;

/// <summary>
/// A stand-in for Chromium that speaks just enough CDP for the live view: <c>/json/list</c> with its pages, and a
/// browser WebSocket that answers attaching (with its <c>Target.attachedToTarget</c> event),
/// screencasting and detaching as Chromium does, and any
/// other command with an empty result. It records every command it got (method and session), on every socket.
/// </summary>
public sealed class ScreencastBrowserStub : IAsyncDisposable
{
    /// <summary>A tiny JPEG's worth of bytes: the viewer's stream carries them unchanged.</summary>
    public static readonly byte[] FrameBytes = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 0xFF, 0xD9];

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Method, string? SessionId)> _commands = new();
    private readonly ConcurrentDictionary<WebSocket, SemaphoreSlim> _sockets = new();
    private readonly ConcurrentDictionary<string, (WebSocket Socket, string TargetId)> _sessions = new();
    private int _sessionCounter;
    private int _frameCounter;
    private int _socketsOpened;

    private ScreencastBrowserStub(WebApplication app) => _app = app;

    public int Port { get; private set; }
    public string BrowserId { get; } = Guid.NewGuid().ToString();
    public string BrowserUrl => $"ws://127.0.0.1:{Port}/devtools/browser/{BrowserId}";
    public List<string> PageIds { get; } = [Guid.NewGuid().ToString("N").ToUpperInvariant()];

    /// <summary>Answers <c>Target.attachToTarget</c> as Chromium does for a page that just closed.</summary>
    public bool RefuseAttach { get; set; }

    /// <summary>Every command received so far, in order.</summary>
    public IReadOnlyList<(string Method, string? SessionId)> Commands => [.. _commands];

    public int Count(string method) => Commands.Count(c => c.Method == method);

    /// <summary>WebSockets open now.</summary>
    public int OpenSockets => _sockets.Count;

    /// <summary>WebSockets ever opened.</summary>
    public int SocketsOpened => Volatile.Read(ref _socketsOpened);

    public static async Task<ScreencastBrowserStub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var stub = new ScreencastBrowserStub(app);
        app.UseWebSockets();
        app.Run(stub.HandleAsync);
        await app.StartAsync();
        stub.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return stub;
    }

    /// <summary>Sends one screencast frame on every session that screencasts now.</summary>
    public async Task SendFrameAsync()
    {
        foreach (var (sessionId, (socket, _)) in _sessions)
        {
            var frame = new JsonObject
            {
                ["method"] = "Page.screencastFrame",
                ["sessionId"] = sessionId,
                ["params"] = new JsonObject
                {
                    ["data"] = Convert.ToBase64String(FrameBytes),
                    ["metadata"] = new JsonObject { ["deviceWidth"] = 800, ["deviceHeight"] = 600, ["offsetTop"] = 0, ["pageScaleFactor"] = 1 },
                    ["sessionId"] = Interlocked.Increment(ref _frameCounter),
                },
            };
            await SendAsync(socket, frame);
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (context.WebSockets.IsWebSocketRequest)
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            _sockets[socket] = new SemaphoreSlim(1, 1);
            Interlocked.Increment(ref _socketsOpened);
            try
            {
                await ServeAsync(socket, context.RequestAborted);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
            {
            }
            finally
            {
                _sockets.TryRemove(socket, out _);
                foreach (var (id, session) in _sessions)
                {
                    if (session.Socket == socket)
                    {
                        _sessions.TryRemove(id, out _);
                    }
                }
            }
            return;
        }
        if (context.Request.Path == "/json/list")
        {
            var list = new JsonArray();
            foreach (var id in PageIds)
            {
                list.Add(new JsonObject { ["id"] = id, ["type"] = "page", ["url"] = "about:blank", ["title"] = "stub page" });
            }
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(list.ToJsonString());
            return;
        }
        context.Response.StatusCode = 404;
    }

    private async Task ServeAsync(WebSocket socket, CancellationToken aborted)
    {
        var buffer = new byte[1 << 20];
        while (true)
        {
            var length = 0;
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), aborted);
                length += result.Count;
            }
            while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                return;
            }
            var command = JsonNode.Parse(buffer.AsSpan(0, length))!.AsObject();
            var method = (string)command["method"]!;
            var sessionId = (string?)command["sessionId"];
            var id = command["id"]!.DeepClone();
            var parameters = command["params"] as JsonObject ?? [];
            _commands.Enqueue((method, sessionId));
            var answer = new JsonObject { ["id"] = id, ["result"] = new JsonObject() };
            if (sessionId is not null)
            {
                answer["sessionId"] = sessionId;
            }
            switch (method)
            {
                case "Target.attachToTarget":
                    var target = (string)parameters["targetId"]!;
                    if (RefuseAttach || !PageIds.Contains(target))
                    {
                        answer.Remove("result");
                        answer["error"] = new JsonObject { ["code"] = -32602, ["message"] = "No target with given id found" };
                        break;
                    }
                    var session = "S" + Interlocked.Increment(ref _sessionCounter);
                    answer["result"] = new JsonObject { ["sessionId"] = session };
                    _sessions[session] = (socket, target);
                    // As Chromium does for a flattened attach: the event announcing the session comes before the answer.
                    await SendAsync(socket, new JsonObject
                    {
                        ["method"] = "Target.attachedToTarget",
                        ["params"] = new JsonObject
                        {
                            ["sessionId"] = session,
                            ["targetInfo"] = new JsonObject
                            {
                                ["targetId"] = target,
                                ["type"] = "page",
                                ["title"] = "stub page",
                                ["url"] = "about:blank",
                                ["attached"] = true,
                            },
                            ["waitingForDebugger"] = false,
                        },
                    });
                    break;
                case "Page.stopScreencast" when sessionId is not null:
                    _sessions.TryRemove(sessionId, out _);
                    break;
                case "Target.detachFromTarget":
                    _sessions.TryRemove((string)parameters["sessionId"]!, out _);
                    break;
            }
            await SendAsync(socket, answer);
            if (method == "Page.startScreencast")
            {
                // As Chromium does: the first frame follows the start at once.
                await SendFrameAsync();
            }
        }
    }

    private async Task SendAsync(WebSocket socket, JsonObject message)
    {
        if (!_sockets.TryGetValue(socket, out var gate))
        {
            return;
        }
        await gate.WaitAsync();
        try
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or IOException)
        {
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var socket in _sockets.Keys)
        {
            socket.Abort();
        }
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
