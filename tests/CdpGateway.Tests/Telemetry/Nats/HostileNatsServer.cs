using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>
/// A fake NATS server on 127.0.0.1 that speaks just enough of the protocol, then misbehaves. Each connection gets
/// <c>greeting</c>; once the client's CONNECT and PING are in, <c>answer</c> (a PONG, or a refusal); after a PONG it
/// waits for the client's SUB (the client is then open and reading) and sends <c>misbehaviour</c>. It then reads
/// until the client hangs up, so a closed connection is the client's doing.
/// </summary>
internal sealed class HostileNatsServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly byte[] _greeting;
    private readonly byte[] _answer;
    private readonly byte[] _misbehaviour;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _connections;
    private int _hungUp;

    public HostileNatsServer(string greeting, byte[] misbehaviour, string answer = "PONG\r\n")
    {
        _greeting = Encoding.ASCII.GetBytes(greeting);
        _answer = Encoding.ASCII.GetBytes(answer);
        _misbehaviour = misbehaviour;
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    public HostileNatsServer(string greeting, string misbehaviour = "", string answer = "PONG\r\n")
        : this(greeting, Encoding.ASCII.GetBytes(misbehaviour), answer)
    {
    }

    /// <summary>The greeting of a plain server that needs no TLS or credentials.</summary>
    public const string PlainInfo = "INFO {\"server_id\":\"hostile\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,\"max_payload\":1048576}\r\n";

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The CONNECT line of every connection that sent one, in arrival order.</summary>
    public ConcurrentQueue<string> Connects { get; } = new();

    /// <summary>Everything each connection received before its CONNECT and PING were complete, or until it ended.</summary>
    public ConcurrentQueue<byte[]> Handshakes { get; } = new();

    /// <summary>Connections the client closed so far.</summary>
    public int HungUp => Volatile.Read(ref _hungUp);

    private async Task AcceptLoopAsync()
    {
        var serving = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                serving.Add(ServeAsync(client));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
        await Task.WhenAll(serving);
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var received = new MemoryStream();
            var buffer = new byte[16 * 1024];
            try
            {
                await stream.WriteAsync(_greeting, _stop.Token);
                try
                {
                    await ReadUntilAsync(stream, buffer, received, "PING\r\n");
                }
                finally
                {
                    Handshakes.Enqueue(received.ToArray());
                }
                Connects.Enqueue(Encoding.ASCII.GetString(received.ToArray()).Split("\r\n")[0]);
                await stream.WriteAsync(_answer, _stop.Token);
                if (Encoding.ASCII.GetString(_answer).StartsWith("PONG", StringComparison.Ordinal))
                {
                    await ReadUntilAsync(stream, buffer, received, "SUB ");
                    await stream.WriteAsync(_misbehaviour, _stop.Token);
                }
                while (await stream.ReadAsync(buffer, _stop.Token) > 0)
                {
                    // Whatever the client still sends is ignored; the loop ends when it hangs up.
                }
                Interlocked.Increment(ref _hungUp);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // A reset is the client hanging up too.
                Interlocked.Increment(ref _hungUp);
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }
    }

    private async Task ReadUntilAsync(NetworkStream stream, byte[] buffer, MemoryStream received, string marker)
    {
        var wanted = Encoding.ASCII.GetBytes(marker);
        while (received.GetBuffer().AsSpan(0, (int)received.Length).IndexOf(wanted) < 0)
        {
            int read = await stream.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                throw new IOException("the client hung up before sending " + marker.Trim());
            }
            received.Write(buffer, 0, read);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
