using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;

namespace CdpGateway.Api.LiveView;

/// <summary>
/// The gateway's own CDP connection to Chromium, for the live view only: a WebSocket straight to the browser's DevTools
/// URL, not through the CDP port, so it is no client connection (no <c>cdp_connect</c>, no <c>cdp_command</c>, not
/// counted). Sends commands and matches their answers by id; every event goes to <see cref="EventReceived"/> on the
/// receive loop, which must not wait on this session's own answers.
/// </summary>
public sealed class LiveViewSession : IAsyncDisposable
{
    /// <summary>Screencast frames are base64 JPEG inside JSON; a large viewport at full quality stays well under this.</summary>
    private const int MaxMessageBytes = 64 * 1024 * 1024;

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket;
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _closing = new();
    private readonly TaskCompletionSource<string> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _receiving = Task.CompletedTask;
    private long _nextId;

    private LiveViewSession(ClientWebSocket socket, string browserUrl)
    {
        _socket = socket;
        BrowserUrl = browserUrl;
    }

    /// <summary>The browser URL this session was dialled to.</summary>
    public string BrowserUrl { get; }

    /// <summary>Completes, with why, once the session is over (closed by us, by Chromium, or broken).</summary>
    public Task<string> Closed => _closed.Task;

    /// <summary>An event: its method, its session id (flattened target sessions; null for the browser's own) and params.</summary>
    public event Action<string, string?, JsonElement>? EventReceived;

    public static async Task<LiveViewSession> ConnectAsync(string browserUrl, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CommandTimeout);
            await socket.ConnectAsync(new Uri(browserUrl), timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var session = new LiveViewSession(socket, browserUrl);
        session._receiving = Task.Run(session.ReceiveLoopAsync);
        return session;
    }

    /// <summary>Sends one command and returns its <c>result</c>; throws <see cref="LiveViewException"/> for a CDP error or a closed session.</summary>
    public async Task<JsonElement> SendAsync(string method, Action<Utf8JsonWriter>? writeParams = null, string? sessionId = null,
        CancellationToken cancellationToken = default)
    {
        var id = Interlocked.Increment(ref _nextId);
        var answer = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        try
        {
            var message = new ArrayBufferWriter<byte>(256);
            using (var writer = new Utf8JsonWriter(message))
            {
                writer.WriteStartObject();
                writer.WriteNumber("id", id);
                writer.WriteString("method", method);
                if (sessionId is not null)
                {
                    writer.WriteString("sessionId", sessionId);
                }
                writer.WriteStartObject("params");
                writeParams?.Invoke(writer);
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_closed.Task.IsCompleted)
                {
                    throw new LiveViewException($"{method}: the session to Chromium is closed ({_closed.Task.Result})");
                }
                await _socket.SendAsync(message.WrittenMemory, WebSocketMessageType.Text, true, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException)
            {
                throw new LiveViewException($"{method}: the session to Chromium broke ({e.Message})");
            }
            finally
            {
                _sendLock.Release();
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CommandTimeout);
            try
            {
                return await answer.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new LiveViewException($"{method}: Chromium did not answer within {CommandTimeout.TotalSeconds} s");
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var reason = "Chromium closed the session";
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
                            reason = "Chromium sent a message beyond the live view's limit";
                            return;
                        }
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), _closing.Token).ConfigureAwait(false);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                Dispatch(buffer.AsSpan(0, length));
            }
        }
        catch (OperationCanceledException)
        {
            reason = "closed by the gateway";
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException)
        {
            reason = "the connection to Chromium was lost";
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _closed.TrySetResult(reason);
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new LiveViewException($"the session to Chromium ended: {reason}"));
            }
        }
    }

    private void Dispatch(ReadOnlySpan<byte> message)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(message.ToArray());
        }
        catch (JsonException)
        {
            return;
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return;
            }
            if (root.TryGetProperty("id", out var id) && id.TryGetInt64(out var number))
            {
                if (_pending.TryGetValue(number, out var answer))
                {
                    if (root.TryGetProperty("error", out var error))
                    {
                        var text = error.TryGetProperty("message", out var m) ? m.GetString() : error.GetRawText();
                        answer.TrySetException(new LiveViewException(text ?? "error"));
                    }
                    else
                    {
                        answer.TrySetResult(root.TryGetProperty("result", out var r) ? r.Clone() : default);
                    }
                }
                return;
            }
            if (root.TryGetProperty("method", out var method) && method.GetString() is { } name)
            {
                var sessionId = root.TryGetProperty("sessionId", out var s) ? s.GetString() : null;
                var parameters = root.TryGetProperty("params", out var p) ? p : default;
                try
                {
                    EventReceived?.Invoke(name, sessionId, parameters);
                }
                catch (Exception)
                {
                    // A handler's fault must not end the session for every other viewer.
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            await _sendLock.WaitAsync().ConfigureAwait(false);
            try
            {
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "live view closed", grace.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                _sendLock.Release();
            }
        }
        await _closing.CancelAsync().ConfigureAwait(false);
        await _receiving.ConfigureAwait(false);
        _socket.Dispose();
        _closing.Dispose();
    }

    /// <summary>Base64 text of a JSON string, decoded into bytes (screencast frames).</summary>
    internal static byte[]? DecodeBase64(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            return null;
        }
        return value.TryGetBytesFromBase64(out var bytes) ? bytes : null;
    }
}
