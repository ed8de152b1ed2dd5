using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Chaos;

public enum Plan { Close, Reset, SlowReader, Oversize, KeepRunning, Shutdown }

/// <summary>What one client connection did and saw; times are unix µs on this machine's clock, as the events'.</summary>
public sealed class ConnRecord
{
    public int Client { get; init; }
    public long Tag { get; init; }
    public Plan Plan { get; init; }
    public string Target { get; set; } = "browser";
    public long ConnectUs { get; set; }
    public long EndUs { get; set; }
    public int? SentCloseCode { get; set; }
    public long SentCloseUs { get; set; }
    public bool Aborted { get; set; }
    public long AbortUs { get; set; }
    public bool SentOversize { get; set; }
    public long OversizeUs { get; set; }
    public long PauseFromUs { get; set; }
    public long PauseToUs { get; set; }
    /// <summary>The close code the client received, null when its socket ended without one (1006).</summary>
    public int? ReceivedCode { get; set; }
    public string? ReceivedText { get; set; }
    public long ReceivedUs { get; set; }
    public string? Error { get; set; }
    public int LocalPort { get; set; }
    public int Replies { get; set; }
    /// <summary>Messages and payload bytes this client's sends completed with (the oversize one not included).</summary>
    public long SentMessages { get; set; }
    public long SentBytes { get; set; }
}

/// <summary>
/// One CDP client over ClientWebSocket. The socket is made here (ConnectCallback) so that a reset can be a real RST
/// (linger 0) and the client knows its local port.
/// </summary>
public sealed class CdpClient : IAsyncDisposable
{
    private readonly ClientWebSocket _ws = new();
    private readonly ConnRecord _rec;
    private Socket? _socket;
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private TaskCompletionSource _resume = Completed();
    private Task? _reader;
    private long _nextId;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    public CdpClient(ConnRecord rec, long firstId)
    {
        _rec = rec;
        _nextId = firstId;
        _ws.Options.KeepAliveInterval = TimeSpan.Zero;
    }

    public static long NowUs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;

    private static TaskCompletionSource Completed()
    {
        var t = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        t.SetResult();
        return t;
    }

    public Task Ended => _reader ?? Task.CompletedTask;

    public bool Open => _rec.ReceivedUs == 0 && _rec.EndUs == 0;

    public async Task ConnectAsync(Uri uri, CancellationToken ct)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (ctx, token) =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await s.ConnectAsync(ctx.DnsEndPoint, token);
                }
                catch
                {
                    s.Dispose();
                    throw;
                }
                _socket = s;
                _rec.LocalPort = ((System.Net.IPEndPoint)s.LocalEndPoint!).Port;
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        await _ws.ConnectAsync(uri, new HttpMessageInvoker(handler), ct);
        _rec.ConnectUs = NowUs();
        _reader = Task.Run(ReadLoopAsync, CancellationToken.None);
    }

    private async Task ReadLoopAsync()
    {
        var buf = new byte[64 * 1024];
        var msg = new MemoryStream();
        try
        {
            while (true)
            {
                await _resume.Task;
                var r = await _ws.ReceiveAsync(buf, CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    _rec.ReceivedCode = (int?)r.CloseStatus;
                    _rec.ReceivedText = r.CloseStatusDescription;
                    _rec.ReceivedUs = NowUs();
                    if (_ws.State == WebSocketState.CloseReceived)
                    {
                        // Answering tells the gateway the frame arrived: the contract then reports its code.
                        try
                        {
                            await _ws.CloseOutputAsync((WebSocketCloseStatus)(r.CloseStatus ?? WebSocketCloseStatus.NormalClosure), null, CancellationToken.None);
                        }
                        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException)
                        {
                        }
                    }
                    break;
                }
                msg.Write(buf, 0, r.Count);
                if (r.EndOfMessage)
                {
                    Dispatch(msg.GetBuffer().AsSpan(0, (int)msg.Length));
                    msg.SetLength(0);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            if (!_rec.Aborted)
            {
                _rec.Error ??= e.GetType().Name + ": " + e.Message + (e.InnerException != null ? " <- " + e.InnerException.Message : "");
            }
        }
        finally
        {
            _rec.EndUs = NowUs();
            foreach (var p in _pending.Values)
            {
                p.TrySetCanceled();
            }
        }
    }

    private void Dispatch(ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            if (doc.RootElement.TryGetProperty("id", out var id) && id.TryGetInt64(out var n) && _pending.TryRemove(n, out var tcs))
            {
                _rec.Replies++;
                tcs.TrySetResult(doc.RootElement.Clone());
            }
        }
        catch (JsonException)
        {
        }
    }

    public async Task<JsonElement?> CallAsync(string method, string paramsJson, string? session, TimeSpan timeout, long? id = null)
    {
        var n = id ?? Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[n] = tcs;
        var text = session == null
            ? $"{{\"id\":{n},\"method\":\"{method}\",\"params\":{paramsJson}}}"
            : $"{{\"id\":{n},\"method\":\"{method}\",\"params\":{paramsJson},\"sessionId\":\"{session}\"}}";
        if (!await TrySendAsync(Encoding.UTF8.GetBytes(text)))
        {
            _pending.TryRemove(n, out _);
            return null;
        }
        var done = await Task.WhenAny(tcs.Task, Task.Delay(timeout));
        _pending.TryRemove(n, out _);
        return done == tcs.Task && tcs.Task.IsCompletedSuccessfully ? tcs.Task.Result : null;
    }

    public async Task<bool> TrySendAsync(ReadOnlyMemory<byte> data)
    {
        await _sendLock.WaitAsync();
        try
        {
            if (_ws.State != WebSocketState.Open)
            {
                return false;
            }
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _ws.SendAsync(data, WebSocketMessageType.Text, true, cts.Token);
            if (!_rec.SentOversize)
            {
                _rec.SentMessages++;
                _rec.SentBytes += data.Length;
            }
            return true;
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            return false;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    public async Task CloseAsync(int code)
    {
        await _sendLock.WaitAsync();
        try
        {
            if (_ws.State != WebSocketState.Open)
            {
                return;
            }
            _rec.SentCloseCode = code;
            _rec.SentCloseUs = NowUs();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _ws.CloseOutputAsync((WebSocketCloseStatus)code, "chaos", cts.Token);
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>A real reset: linger 0 makes the kernel send RST instead of FIN.</summary>
    public void Reset()
    {
        if (!Open)
        {
            return;
        }
        _rec.Aborted = true;
        _rec.AbortUs = NowUs();
        try
        {
            _socket?.LingerState = new LingerOption(true, 0);
            _socket?.Close();
        }
        catch (ObjectDisposedException)
        {
        }
        _ws.Abort();
    }

    public void Pause()
    {
        _resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _rec.PauseFromUs = NowUs();
    }

    public void Resume()
    {
        if (_rec.PauseFromUs > 0 && _rec.PauseToUs == 0)
        {
            _rec.PauseToUs = NowUs();
        }
        _resume.TrySetResult();
    }

    public async Task OversizeAsync(int bytes)
    {
        var payload = new byte[bytes];
        Array.Fill(payload, (byte)'a');
        var head = "{\"id\":1,\"method\":\"Runtime.evaluate\",\"params\":{\"expression\":\""u8;
        head.CopyTo(payload);
        "\"}}"u8.CopyTo(payload.AsSpan(bytes - 3));
        _rec.SentOversize = true;
        _rec.OversizeUs = NowUs();
        await TrySendAsync(payload);
    }

    public async Task<bool> WaitEndAsync(TimeSpan timeout)
    {
        var r = _reader ?? Task.CompletedTask;
        return await Task.WhenAny(r, Task.Delay(timeout)) == r;
    }

    public async ValueTask DisposeAsync()
    {
        Resume();
        if (!await WaitEndAsync(TimeSpan.Zero))
        {
            _ws.Abort();
            await WaitEndAsync(TimeSpan.FromSeconds(2));
        }
        _ws.Dispose();
    }
}
