using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CdpGateway.Tests.EndToEnd;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using Pptr = PuppeteerSharp;

namespace CdpGateway.Tests.Security;

/// <summary>
/// Someone who can reach the control API (with or without its token) tries to make the gateway's Chromium run
/// programs, write or read host files, open DevTools wider, or keep the gateway from starting. Against the real
/// gateway process and Debian's Chromium, so that "nothing ran" is observed, not assumed.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class RuntimeFlagAttackTests(ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(120) };

    private static async Task<(HttpStatusCode Status, string Body)> SendFlagsAsync(GatewayProcess gateway, HttpMethod method, params string[] flags)
    {
        using var request = new HttpRequestMessage(method, gateway.ApiHttp("/chromium/flags"))
        {
            Content = new StringContent(JsonSerializer.Serialize(new { flags }), Encoding.UTF8, "application/json"),
        };
        using var response = await Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string ErrorOf(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("error").GetString()!;
    }

    private static string FlagsFile(GatewayProcess gateway) => Path.Combine(gateway.DataDir, "flags.json");

    /// <summary>Opens a tab through CDP and runs script in it: a renderer (and what it needs) has been launched.</summary>
    private static async Task OpenATabAsync(GatewayProcess gateway)
    {
        var browser = await Pptr.Puppeteer.ConnectAsync(new Pptr.ConnectOptions { BrowserURL = $"http://127.0.0.1:{gateway.CdpPort}" })
            .WaitAsync(Patience);
        try
        {
            var page = await browser.NewPageAsync().WaitAsync(Patience);
            Assert.Equal(2, await page.EvaluateExpressionAsync<int>("1 + 1").WaitAsync(Patience));
            await page.CloseAsync().WaitAsync(Patience);
        }
        finally
        {
            browser.Disconnect();
        }
    }

    [Fact]
    public async Task RendererCommandPrefixIsRefusedAndRunsNothing()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();
        var marker = Path.Combine(gateway.Dir.Path, "renderer-ran");

        var (status, body) = await SendFlagsAsync(gateway, HttpMethod.Patch,
            $"--renderer-cmd-prefix=/bin/sh -c \"touch {marker}; exec \\\"$@\\\"\" --");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = ErrorOf(body);
        Assert.Contains("--renderer-cmd-prefix", error);
        Assert.Contains("runs a program", error);
        Assert.Contains("--allow-runtime-flag --renderer-cmd-prefix", error);
        await OpenATabAsync(gateway);
        Assert.False(File.Exists(marker), "the renderer command prefix ran");
        Assert.False(File.Exists(FlagsFile(gateway)) && File.ReadAllText(FlagsFile(gateway)).Contains("cmd-prefix", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EveryFlagFromTheFindingsIsRefused()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();
        var marker = Path.Combine(gateway.Dir.Path, "ran");
        var log = Path.Combine(gateway.Dir.Path, "written.log");
        string[][] attacks =
        [
            [$"--utility-cmd-prefix=/bin/sh -c \"touch {marker}-utility; exec \\\"$@\\\"\" --"],
            [$"--gpu-launcher=/bin/sh -c \"touch {marker}-gpu; exec \\\"$@\\\"\" --"],
            [$"--browser-subprocess-path={marker}-subprocess"],
            ["--enable-logging", $"--log-file={log}"],
            [$"--enable-logging={log}"],
            ["--remote-allow-origins=*"],
            ["--disable-web-security"],
            [$"--load-extension={gateway.Dir.Path}"],
            ["--REMOTE-DEBUGGING-ADDRESS=0.0.0.0"],
            ["--Remote-Debugging-Port=9333"],
            [$"--js-flags=--logfile={log} --prof"],
        ];
        foreach (var flags in attacks)
        {
            var (status, body) = await SendFlagsAsync(gateway, HttpMethod.Patch, flags);
            Assert.True(status == HttpStatusCode.BadRequest, $"{string.Join(' ', flags)} answered {(int)status}: {body}");
            var refused = flags.Select(f => f.Split('=')[0]).First(n => ErrorOf(body).Contains(n, StringComparison.OrdinalIgnoreCase));
            output.WriteLine($"{refused}: {ErrorOf(body)}");
        }

        Assert.False(File.Exists(FlagsFile(gateway)), "a refused change was persisted");
        await OpenATabAsync(gateway);
        Assert.Empty(Directory.GetFiles(gateway.Dir.Path, "ran*"));
        Assert.False(File.Exists(log), "a log file was written");
    }

    [Fact]
    public async Task AHugeFlagIsRefusedAtOnceAndTheGatewayStillRestartsAndStarts()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();

        var clock = Stopwatch.StartNew();
        var (huge, hugeBody) = await SendFlagsAsync(gateway, HttpMethod.Patch, "--user-agent=" + new string('a', 200 * 1024));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge);
        Assert.Contains("64 KiB", ErrorOf(hugeBody));
        // Under the body limit but over the one for a flag: the policy's 400.
        var (tooLong, tooLongBody) = await SendFlagsAsync(gateway, HttpMethod.Patch, "--user-agent=" + new string('a', 5 * 1024));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong);
        Assert.Contains("4 KiB", ErrorOf(tooLongBody));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the refusals took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.False(File.Exists(FlagsFile(gateway)));

        using (var restart = await Http.PostAsync(gateway.ApiHttp("/chromium/restart"), null))
        {
            Assert.Equal(HttpStatusCode.OK, restart.StatusCode);
        }
        gateway.Signal(SIGTERM);
        Assert.Equal(0, await gateway.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        await using var again = Start(output, "--data-dir", gateway.DataDir);
        await again.WaitHealthyAsync();
    }

    [Fact]
    public async Task APlantedFlagsFileThatFailsThePolicyIsIgnoredAndReported()
    {
        var marker = "";
        await using var gateway = Start(output, dir =>
        {
            marker = Path.Combine(dir.Path, "planted-ran");
            Directory.CreateDirectory(dir.DataDir);
            File.WriteAllText(Path.Combine(dir.DataDir, "flags.json"), JsonSerializer.Serialize(new
            {
                flags = new[] { "--lang=de", $"--renderer-cmd-prefix=/bin/sh -c \"touch {marker}; exec \\\"$@\\\"\" --" },
            }));
            return [];
        });
        await gateway.WaitHealthyAsync();

        var health = await gateway.GetJsonAsync(gateway.ApiHttp("/health"));
        Assert.Equal("ready", health.GetProperty("status").GetString());
        Assert.Contains("--renderer-cmd-prefix", health.GetProperty("runtime_flags_error").GetString());
        var chromium = await gateway.GetJsonAsync(gateway.ApiHttp("/chromium"));
        Assert.Contains("--renderer-cmd-prefix", chromium.GetProperty("runtime_flags_error").GetString());
        Assert.Equal(0, chromium.GetProperty("flags").GetArrayLength());
        Assert.DoesNotContain(chromium.GetProperty("command_line").EnumerateArray(), a => a.GetString()!.Contains("cmd-prefix", StringComparison.Ordinal));
        await OpenATabAsync(gateway);
        Assert.False(File.Exists(marker), "the planted renderer command prefix ran");
    }

    [Fact]
    public async Task APlantedFlagsFileWithAHugeFlagIsIgnoredAndTheGatewayStarts()
    {
        await using var gateway = Start(output, dir =>
        {
            Directory.CreateDirectory(dir.DataDir);
            File.WriteAllText(Path.Combine(dir.DataDir, "flags.json"),
                JsonSerializer.Serialize(new { flags = new[] { "--user-agent=" + new string('a', 200 * 1024) } }));
            return [];
        });
        await gateway.WaitHealthyAsync();

        var health = await gateway.GetJsonAsync(gateway.ApiHttp("/health"));
        Assert.Contains("4 KiB", health.GetProperty("runtime_flags_error").GetString());
        Assert.DoesNotContain(new string('a', 1000), gateway.Output);
    }

    [Fact]
    public async Task APlantedFlagsFileChromiumDoesNotStartWithIsIgnoredAndReported()
    {
        // A harmless flag that makes Chromium print its version and exit before it announces DevTools.
        await using var gateway = Start(output, dir =>
        {
            Directory.CreateDirectory(dir.DataDir);
            File.WriteAllText(Path.Combine(dir.DataDir, "flags.json"), """{"flags":["--version"]}""");
            return [];
        });
        await gateway.WaitHealthyAsync(patience: TimeSpan.FromSeconds(60));

        var health = await gateway.GetJsonAsync(gateway.ApiHttp("/health"));
        Assert.Equal("ready", health.GetProperty("status").GetString());
        var error = health.GetProperty("runtime_flags_error").GetString();
        Assert.Contains("without announcing DevTools", error);
        var chromium = await gateway.GetJsonAsync(gateway.ApiHttp("/chromium"));
        Assert.Equal(error, chromium.GetProperty("runtime_flags_error").GetString());
        Assert.Equal(0, chromium.GetProperty("flags").GetArrayLength());
    }

    [Fact]
    public async Task AFlagChangeChromiumDoesNotStartWithIsUndoneAndNeverReachesTheNextStart()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();
        var (ok, _) = await SendFlagsAsync(gateway, HttpMethod.Patch, "--lang=de");
        Assert.Equal(HttpStatusCode.OK, ok);

        var clock = Stopwatch.StartNew();
        var (status, body) = await SendFlagsAsync(gateway, HttpMethod.Patch, "--version");

        Assert.True(status == HttpStatusCode.UnprocessableEntity, $"answered {(int)status}: {body}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"answered after {clock.Elapsed.TotalSeconds:F0} s");
        var error = ErrorOf(body);
        Assert.Contains("did not start with the new flags", error);
        Assert.Contains("--lang", error);
        var flags = await gateway.GetJsonAsync(gateway.ApiHttp("/chromium/flags"));
        Assert.Equal(["--lang=de"], flags.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        Assert.DoesNotContain("--version", await File.ReadAllTextAsync(FlagsFile(gateway)));
        await gateway.WaitHealthyAsync();

        gateway.Signal(SIGTERM);
        Assert.Equal(0, await gateway.WaitForExitAsync(TimeSpan.FromSeconds(15)));
        await using var again = Start(output, "--data-dir", gateway.DataDir);
        await again.WaitHealthyAsync();
        var chromium = await again.GetJsonAsync(again.ApiHttp("/chromium"));
        Assert.False(chromium.TryGetProperty("runtime_flags_error", out _));
        Assert.Equal(["--lang=de"], chromium.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
    }

    [Fact]
    public async Task FlagFilesArePrivateAndLogsNameFlagsWithoutTheirValues()
    {
        const string secret = "agent-with-a-secret-7f3a9c";
        await using var gateway = Start(output, "--log-level", "debug");
        await gateway.WaitHealthyAsync();

        var (status, _) = await SendFlagsAsync(gateway, HttpMethod.Patch, "--user-agent=" + secret);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(FlagsFile(gateway)));
        Assert.Contains("--user-agent", gateway.Output);
        Assert.DoesNotContain(secret, gateway.Output);
    }

    [Theory]
    [InlineData("/chromium/flags")]
    [InlineData("/telemetry")]
    public async Task ABodyOverSixtyFourKibibytesIsRefusedBeforeItIsRead(string path)
    {
        await using var gateway = Start(output);
        await gateway.WaitForApiAsync();

        // The body is announced but never sent: the answer cannot come from reading it.
        var (status, body) = await RawAsync(gateway.ApiPort,
            $"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n", []);

        Assert.Equal(413, status);
        Assert.Contains("64 KiB", ErrorOf(body));
    }

    [Theory]
    [InlineData("/chromium/flags")]
    [InlineData("/telemetry")]
    public async Task AChunkedBodyOverSixtyFourKibibytesIsRefused(string path)
    {
        await using var gateway = Start(output);
        await gateway.WaitForApiAsync();
        var chunks = new MemoryStream();
        var chunk = Encoding.ASCII.GetBytes(new string(' ', 16 * 1024));
        for (var i = 0; i < 5; i++)
        {
            chunks.Write(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
            chunks.Write(chunk);
            chunks.Write("\r\n"u8);
        }
        chunks.Write("0\r\n\r\n"u8);

        var (status, body) = await RawAsync(gateway.ApiPort,
            $"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", chunks.ToArray());

        Assert.Equal(413, status);
        Assert.Contains("64 KiB", ErrorOf(body));
    }

    [Theory]
    [InlineData("/chromium/flags", "{\"flags\":[\"--user-agent=\xff\"]}", "UTF-8")]
    [InlineData("/chromium/flags", "{\"flags\":[\"--user-agent=\\ud800\"]}", "lone surrogate")]
    [InlineData("/telemetry", "{\"\xff\":{}}", "UTF-8")]
    [InlineData("/telemetry", "{\"control\":{\"cdp\":{\"excluded_methods\":[\"\\udc00x\"]}}}", "lone surrogate")]
    public async Task ABodyThatIsNotValidUnicodeIsABadRequestWithAMessage(string path, string latin1Body, string named)
    {
        await using var gateway = Start(output);
        await gateway.WaitForApiAsync();
        using var content = new ByteArrayContent(Encoding.Latin1.GetBytes(latin1Body));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Patch, gateway.ApiHttp(path)) { Content = content });

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"answered {(int)response.StatusCode}: {body}");
        Assert.Contains(named, ErrorOf(body));
    }

    /// <summary>Sends raw bytes on a fresh connection and reads one response: its status and body.</summary>
    private static async Task<(int Status, string Body)> RawAsync(int port, string head, byte[] body)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(body);
        using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
        using var timeout = new CancellationTokenSource(Patience);
        var statusLine = await reader.ReadLineAsync(timeout.Token) ?? throw new IOException("no response");
        int? length = null;
        var chunked = false;
        string? line;
        while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync(timeout.Token)))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                length = int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
            chunked |= line.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase) && line.Contains("chunked", StringComparison.OrdinalIgnoreCase);
        }
        var text = new StringBuilder();
        if (chunked)
        {
            while (await reader.ReadLineAsync(timeout.Token) is { Length: > 0 } size
                && int.Parse(size.Split(';')[0], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) is var n and > 0)
            {
                text.Append(await ReadCharsAsync(reader, n, timeout.Token));
                await reader.ReadLineAsync(timeout.Token);
            }
        }
        else if (length is { } known)
        {
            text.Append(await ReadCharsAsync(reader, known, timeout.Token));
        }
        return (int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), text.ToString());
    }

    /// <summary>Reads <paramref name="count"/> characters (the answers are ASCII, so as many bytes).</summary>
    private static async Task<string> ReadCharsAsync(StreamReader reader, int count, CancellationToken cancellationToken)
    {
        var chars = new char[count];
        var read = 0;
        while (read < count)
        {
            var n = await reader.ReadAsync(chars.AsMemory(read), cancellationToken);
            if (n == 0)
            {
                break;
            }
            read += n;
        }
        return new string(chars, 0, read);
    }
}
