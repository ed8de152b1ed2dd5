using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Bench;

// A fast stand-in for Chromium's DevTools server, so that what the bench measures is the proxy's cost:
//   upstream --log FILE [--port N]
// Prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" to FILE (and stdout), answers
// GET /json/version and /json/list, and accepts a WebSocket on any /devtools/... path. Per message:
//   {"id":N,...}   -> {"id":N,"result":{}}           (a CDP command answered at once)
//   G<size>        -> one binary message of <size> bytes (upstream -> client bulk)
//   P...           -> "k"                            (client -> upstream bulk, acknowledged)
//   anything else  -> echoed unchanged (same opcode)
string? logFile = null;
int port = 0;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--log": logFile = args[++i]; break;
        case "--port": port = int.Parse(args[++i]); break;
        default: Console.Error.WriteLine("usage: upstream --log FILE [--port N]"); return 2;
    }
}

var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
listener.Listen(4096);
port = ((IPEndPoint)listener.LocalEndPoint!).Port;
var id = Guid.NewGuid().ToString();
var wsUrl = $"ws://127.0.0.1:{port}/devtools/browser/{id}";
var line = $"DevTools listening on {wsUrl}\n";
Console.Out.Write(line);
Console.Out.Flush();
if (logFile is not null)
{
    File.AppendAllText(logFile, line);
}

var version = Encoding.UTF8.GetBytes(
    $"{{\"Browser\":\"BenchUpstream/1.0\",\"Protocol-Version\":\"1.3\",\"User-Agent\":\"BenchUpstream\",\"V8-Version\":\"0\",\"WebKit-Version\":\"0\",\"webSocketDebuggerUrl\":\"{wsUrl}\"}}");
byte[] bulk = [];
var bulkLock = new Lock();

while (true)
{
    Socket client;
    try
    {
        client = await listener.AcceptAsync();
    }
    catch (ObjectDisposedException)
    {
        return 0;
    }
    client.NoDelay = true;
    _ = Task.Run(() => ServeAsync(client));
}

async Task ServeAsync(Socket socket)
{
    var ws = WsConnection.ForAccepted(socket);
    try
    {
        var head = await ws.ReadHeadAsync();
        var firstLine = head.AsSpan(0, Math.Max(0, head.IndexOf('\r') < 0 ? head.Length : head.IndexOf('\r'))).ToString();
        var parts = firstLine.Split(' ');
        var path = parts.Length > 1 ? parts[1] : "/";
        if (!head.Contains("Upgrade: websocket", StringComparison.OrdinalIgnoreCase))
        {
            byte[] body = path.StartsWith("/json/version", StringComparison.Ordinal) ? version
                : path.StartsWith("/json", StringComparison.Ordinal) ? "[]"u8.ToArray()
                : "not found"u8.ToArray();
            var status = body.Length == 9 && body[0] == (byte)'n' ? "404 Not Found" : "200 OK";
            var response = Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
            await ws.SendAllAsync(response);
            await ws.SendAllAsync(body);
            socket.Shutdown(SocketShutdown.Send);
            return;
        }
        await ws.AcceptUpgradeAsync(head);
        var reply = new byte[64];
        var ack = "k"u8.ToArray();
        while (true)
        {
            var (op, payload) = await ws.ReceiveAsync();
            if (op == 8)
            {
                await ws.SendAsync(8, payload.Length >= 2 ? payload[..2] : payload);
                return;
            }
            var span = payload.Span;
            if (span.StartsWith("{\"id\":"u8))
            {
                var rest = span[6..];
                int end = 0;
                while (end < rest.Length && end < 19 && (uint)(rest[end] - '0') <= 9)
                {
                    end++;
                }
                "{\"id\":"u8.CopyTo(reply);
                rest[..end].CopyTo(reply.AsSpan(6));
                ",\"result\":{}}"u8.CopyTo(reply.AsSpan(6 + end));
                await ws.SendAsync(1, reply.AsMemory(0, 6 + end + 13));
            }
            else if (span.Length > 1 && span[0] == (byte)'G' && Utf8Parser.TryParse(span[1..], out int size, out _))
            {
                byte[] data;
                lock (bulkLock)
                {
                    if (bulk.Length < size)
                    {
                        bulk = new byte[size];
                        new Random(1).NextBytes(bulk);
                    }
                    data = bulk;
                }
                await ws.SendAsync(2, data.AsMemory(0, size));
            }
            else if (span.Length > 0 && span[0] == (byte)'P')
            {
                await ws.SendAsync(1, ack);
            }
            else
            {
                await ws.SendAsync(op, payload);
            }
        }
    }
    catch (Exception)
    {
        // The peer went away; nothing to report.
    }
    finally
    {
        ws.Dispose();
    }
}
