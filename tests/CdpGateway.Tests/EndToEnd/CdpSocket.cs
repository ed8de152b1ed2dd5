using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>A raw CDP client on a <see cref="ClientWebSocket"/>: what chrome-remote-interface-style clients do.</summary>
public sealed class CdpSocket : IDisposable
{
    private int _nextId;

    private CdpSocket(ClientWebSocket socket)
    {
        Socket = socket;
    }

    public ClientWebSocket Socket { get; }

    public static async Task<CdpSocket> ConnectAsync(Uri uri)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var timeout = new CancellationTokenSource(GatewayProcess.Patience);
        try
        {
            await socket.ConnectAsync(uri, timeout.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new CdpSocket(socket);
    }

    public Task SendTextAsync(string text) =>
        Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>Receives one whole message; throws if the socket closes instead.</summary>
    public async Task<string> ReceiveTextAsync(TimeSpan? patience = null)
    {
        var (type, data) = await ReceiveAsync(patience ?? GatewayProcess.Patience);
        if (type == WebSocketMessageType.Close)
        {
            throw new WebSocketException($"closed ({(int?)Socket.CloseStatus} {Socket.CloseStatusDescription}) while a message was expected");
        }
        return Encoding.UTF8.GetString(data);
    }

    private async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveAsync(TimeSpan patience)
    {
        using var timeout = new CancellationTokenSource(patience);
        using var buffer = new MemoryStream();
        var chunk = new byte[256 * 1024];
        while (true)
        {
            var result = await Socket.ReceiveAsync(chunk, timeout.Token);
            buffer.Write(chunk, 0, result.Count);
            if (result.MessageType == WebSocketMessageType.Close || result.EndOfMessage)
            {
                return (result.MessageType, buffer.ToArray());
            }
        }
    }

    /// <summary>Sends a command and returns its <c>result</c> (events and other replies in between are skipped).</summary>
    public async Task<JsonElement> CallAsync(string method, string paramsJson = "{}", TimeSpan? patience = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        await SendTextAsync($$"""{"id":{{id}},"method":"{{method}}","params":{{paramsJson}}}""");
        return await ReadResultAsync(id, method, patience);
    }

    /// <summary>Sends an already-built command text with the given id and returns its <c>result</c>.</summary>
    public async Task<JsonElement> CallRawAsync(int id, string commandJson, TimeSpan? patience = null)
    {
        await SendTextAsync(commandJson);
        return await ReadResultAsync(id, "(raw)", patience);
    }

    private async Task<JsonElement> ReadResultAsync(int id, string method, TimeSpan? patience)
    {
        while (true)
        {
            var text = await ReceiveTextAsync(patience);
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (!root.TryGetProperty("id", out var got) || got.GetInt32() != id)
            {
                continue;
            }
            if (root.TryGetProperty("error", out var error))
            {
                throw new InvalidOperationException($"{method} failed: {error.GetRawText()}");
            }
            return root.GetProperty("result").Clone();
        }
    }

    /// <summary>
    /// Reads (discarding messages) until the server's close frame, answers it as a client library would,
    /// and returns its code; null when the connection ended without a close frame.
    /// </summary>
    public async Task<int?> WaitForCloseAsync(TimeSpan patience)
    {
        try
        {
            while (true)
            {
                var (type, _) = await ReceiveAsync(patience);
                if (type == WebSocketMessageType.Close)
                {
                    break;
                }
            }
        }
        catch (WebSocketException)
        {
            return null;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no close frame within {patience.TotalSeconds} s");
        }
        // Answered as a client library would, but not awaited: after the handshake .NET's client waits (up to
        // 1 s) for the server to drop the TCP connection, which is not what "closed promptly" measures.
        _ = AnswerCloseAsync();
        return (int?)Socket.CloseStatus;
    }

    private async Task AnswerCloseAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    /// <summary>The client-initiated close handshake (what a library's disconnect does).</summary>
    public async Task CloseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
    }

    public void Dispose() => Socket.Dispose();
}
