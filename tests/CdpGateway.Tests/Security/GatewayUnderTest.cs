using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Tests.EndToEnd;
using Xunit.Abstractions;

namespace CdpGateway.Tests.Security;

/// <summary>One answer as the client saw it: the status, the body, and every header (repeats joined).</summary>
public sealed record Answer(int Status, string Body, IReadOnlyDictionary<string, string> Headers)
{
    public bool HasCorsHeaders => Headers.Keys.Any(k => k.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase));

    public override string ToString() => $"{Status} {Body.Trim()}";
}

/// <summary>
/// The real gateway process in launch mode with tests/FakeChromium as its browser, which writes every request it gets
/// to a file: what reached the browser is read from there. Requests are sent as an attacker (or a user) would, with
/// whatever Host, Origin and headers the test names.
/// </summary>
public sealed class GatewayUnderTest : IAsyncDisposable
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private GatewayUnderTest(GatewayProcess process, string requestLog)
    {
        Process = process;
        RequestLog = requestLog;
    }

    public GatewayProcess Process { get; }
    public string RequestLog { get; }
    public int CdpPort => Process.CdpPort;
    public int ApiPort => Process.ApiPort;

    /// <param name="token">The <c>--token</c>, also used by the wait for the browser.</param>
    /// <param name="environment">For the gateway's process (<c>CDPGW_EPOLL_RELAY=0</c>).</param>
    public static async Task<GatewayUnderTest> StartAsync(ITestOutputHelper? log, string? token = null, string[]? args = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        string requestLog = "";
        var process = GatewayProcess.Start(log, dir =>
        {
            requestLog = Path.Combine(dir.Path, "browser-requests.jsonl");
            var script = Path.Combine(dir.Path, "fake-chromium.sh");
            File.WriteAllText(script, $"#!/bin/sh\nexport FAKE_CHROMIUM_REQUEST_LOG=\"{requestLog}\"\nexec dotnet \"{GatewayProcess.FakeChromiumDll}\" \"$@\"\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return [.. (token is null ? Array.Empty<string>() : ["--token", token]), "--chromium", script, .. args ?? []];
        }, environment);
        process.Token = token;
        var gateway = new GatewayUnderTest(process, requestLog);
        try
        {
            await process.WaitHealthyAsync();
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
        return gateway;
    }

    public Uri Cdp(string path) => new($"http://127.0.0.1:{CdpPort}{path}");

    public Uri Api(string path) => new($"http://127.0.0.1:{ApiPort}{path}");

    /// <summary>Sends one request; <paramref name="headers"/> may name Host, Origin, Content-Type and anything else.</summary>
    public static async Task<Answer> SendAsync(string method, Uri uri, IEnumerable<(string Name, string Value)>? headers = null, string? body = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), uri);
        string? contentType = null;
        foreach (var (name, value) in headers ?? [])
        {
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                request.Headers.Host = value;
            }
            else if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = value;
            }
            else
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }
        if (body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }
        using var response = await Http.SendAsync(request);
        var all = response.Headers.Concat(response.Content.Headers)
            .ToDictionary(h => h.Key, h => string.Join(", ", h.Value), StringComparer.OrdinalIgnoreCase);
        return new Answer((int)response.StatusCode, await response.Content.ReadAsStringAsync(), all);
    }

    /// <summary>A WebSocket upgrade written byte for byte; returns the answer's status line.</summary>
    public static async Task<string> UpgradeStatusLineAsync(int port, string target, string host, string extraHeaders = "")
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        var request = $"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extraHeaders}\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        var line = new List<byte>();
        var one = new byte[1];
        using var timeout = new CancellationTokenSource(GatewayProcess.Patience);
        while (line.Count < 2 || line[^2] != '\r' || line[^1] != '\n')
        {
            if (await socket.ReceiveAsync(one, timeout.Token) == 0)
            {
                break;
            }
            line.Add(one[0]);
        }
        return Encoding.ASCII.GetString(line.ToArray()).TrimEnd();
    }

    /// <summary>Every request FakeChromium got so far: method, target as sent, headers.</summary>
    public IReadOnlyList<(string Method, string Target, IReadOnlyDictionary<string, string> Headers)> BrowserRequests()
    {
        if (!File.Exists(RequestLog))
        {
            return [];
        }
        var seen = new List<(string, string, IReadOnlyDictionary<string, string>)>();
        foreach (var line in File.ReadAllLines(RequestLog).Where(l => l.Length > 0))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            var headers = root.GetProperty("headers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.OrdinalIgnoreCase);
            seen.Add((root.GetProperty("method").GetString()!, root.GetProperty("target").GetString()!, headers));
        }
        return seen;
    }

    /// <summary>How many times the gateway has restarted its browser (from GET /chromium).</summary>
    public async Task<long> RestartsAsync()
    {
        var query = Process.Token is null ? "" : "?token=" + Uri.EscapeDataString(Process.Token);
        var answer = await SendAsync("GET", Api("/chromium" + query));
        Assert.Equal(200, answer.Status);
        using var doc = JsonDocument.Parse(answer.Body);
        return doc.RootElement.GetProperty("restarts").GetInt64();
    }

    /// <summary>The id of a page target, read from the browser through the gateway.</summary>
    public async Task<string> FirstPageIdAsync(params (string, string)[] headers)
    {
        var answer = await SendAsync("GET", Cdp("/json/list"), headers);
        Assert.True(answer.Status == 200, answer.ToString());
        using var doc = JsonDocument.Parse(answer.Body);
        return doc.RootElement.EnumerateArray().First().GetProperty("id").GetString()!;
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
