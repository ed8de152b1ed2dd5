using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;

namespace CdpGateway.Tests.EndToEnd;

/// <summary>
/// Attach mode against what it is for: a real supervisord (Debian's <c>supervisor</c>) running Debian's Chromium, the
/// gateway following supervisord's log of Chromium's stderr. Each test starts its own supervisord on a private socket
/// in the gateway's temp dir and shuts it down at the end, Chromium with it.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class SupervisordTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TheRestartCommandRestartsChromiumThroughSupervisordAndHealthFollows()
    {
        await using var gateway = StartAttachedTo(out var supervisor);
        await using var _ = supervisor;
        supervisor.Start();
        var first = await gateway.WaitHealthyAsync(patience: SlowStart);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(120) };
        using var response = await http.PostAsync(gateway.ApiHttp("/chromium/restart"), null);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"restart answered {(int)response.StatusCode}: {body}");
        var second = body.GetProperty("devtools_url").GetString();
        Assert.NotEqual(first, second);
        Assert.Equal(2, body.GetProperty("generation").GetInt64());
        Assert.Equal(second, await gateway.WaitHealthyAsync());
        Assert.Equal(2, (await gateway.WaitForEventsAsync("chromium_started", 2)).Count);
        Assert.Empty(gateway.EventsOfType("chromium_unreachable"));
    }

    [Fact]
    public async Task AChromiumKilledAndRestartedBySupervisordIsReadyAgainUnderItsNewUrl()
    {
        await using var gateway = StartAttachedTo(out var supervisor);
        await using var _ = supervisor;
        supervisor.Start();
        var first = await gateway.WaitHealthyAsync(patience: SlowStart);
        using var client = await CdpSocket.ConnectAsync(gateway.CdpWs());
        var connect = Assert.Single(await gateway.WaitForEventsAsync("cdp_connect"));

        Signal(await supervisor.ChromiumPidAsync(), SIGKILL);

        var second = await gateway.WaitHealthyAsync(notUrl: first, patience: SlowStart);
        Assert.NotEqual(first, second);
        var ended = await gateway.WaitForDisconnectAsync(ConnectionIdOf(connect));
        Assert.Equal("upstream_changed", ended.GetProperty("reason").GetString());
        var started = await gateway.WaitForEventsAsync("chromium_started", 2);
        Assert.Equal(second, DataOf(started[1]).GetProperty("devtools_url").GetString());
        // The dropped leg may have had the dead URL probed before the new line came; then the new browser ended it.
        var gone = gateway.EventsOfType("chromium_unreachable");
        if (gone.Count > 0)
        {
            var back = await gateway.WaitForEventsAsync("chromium_reachable");
            Assert.Equal(second, DataOf(back[^1]).GetProperty("devtools_url").GetString());
        }
    }

    [Fact]
    public async Task AChromiumStoppedWithSupervisorctlMakesHealthUnreachableUntilItIsStartedAgain()
    {
        await using var gateway = StartAttachedTo(out var supervisor);
        await using var _ = supervisor;
        supervisor.Start();
        var first = await gateway.WaitHealthyAsync(patience: SlowStart);
        using var client = await CdpSocket.ConnectAsync(gateway.CdpWs());
        var connect = Assert.Single(await gateway.WaitForEventsAsync("cdp_connect"));

        await supervisor.CtlAsync("stop", "chromium");

        var gone = DataOf(Assert.Single(await gateway.WaitForEventsAsync("chromium_unreachable")));
        Assert.Equal(first, gone.GetProperty("devtools_url").GetString());
        Assert.Equal(1, gone.GetProperty("generation").GetInt64());
        // The probe that found it gone may have met the browser on its way out (a reset) or after it (refused).
        Assert.Matches("(?i)refused|reset", gone.GetProperty("error").GetString());
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using (var health = await http.GetAsync(gateway.ApiHttp("/health")))
        {
            var body = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal("unreachable", body.GetProperty("status").GetString());
            Assert.Equal(first, body.GetProperty("devtools_url").GetString());
        }
        var chromium = await gateway.GetJsonAsync(gateway.ApiHttp("/chromium"));
        Assert.Equal("unreachable", chromium.GetProperty("state").GetString());
        using (var version = await http.GetAsync(gateway.CdpHttp("/json/version")))
        {
            // Nothing listens at the browser's address: discovery says so as it does while a browser restarts.
            Assert.Equal(HttpStatusCode.ServiceUnavailable, version.StatusCode);
            Assert.Equal("1", version.Headers.RetryAfter?.ToString());
        }
        var ended = await gateway.WaitForDisconnectAsync(ConnectionIdOf(connect));
        Assert.Equal("upstream_error", ended.GetProperty("reason").GetString());

        // Whoever runs it starts it again: a new line, ready, and the end of the silence said once.
        await supervisor.CtlAsync("start", "chromium");
        var second = await gateway.WaitHealthyAsync(notUrl: first, patience: SlowStart);
        var back = DataOf(Assert.Single(await gateway.WaitForEventsAsync("chromium_reachable")));
        Assert.Equal(second, back.GetProperty("devtools_url").GetString());
        Assert.Equal(2, back.GetProperty("generation").GetInt64());
        Assert.Single(gateway.EventsOfType("chromium_unreachable"));
    }

    /// <summary>Chromium's first start on a busy machine, with supervisord's own start in front of it.</summary>
    private static readonly TimeSpan SlowStart = TimeSpan.FromSeconds(60);

    private GatewayProcess StartAttachedTo(out Supervisord supervisor)
    {
        // The gateway's temp dir holds supervisord's files too, so the gateway's cleanup sweep covers them if a test fails.
        string? conf = null;
        var gateway = Start(output, dir =>
        {
            conf = Path.Combine(dir.Path, "supervisord.conf");
            return
            [
                "--chromium-log", Path.Combine(dir.Path, "chromium.log"),
                "--restart-command", $"supervisorctl -c '{conf}' restart chromium",
                "--restart-confirm-wait", "3s",
            ];
        });
        supervisor = new Supervisord(gateway.Dir.Path, conf!, output);
        return gateway;
    }

    /// <summary>One supervisord in the foreground as this test's child, with Chromium as its only program.</summary>
    private sealed class Supervisord(string dir, string conf, ITestOutputHelper output) : IAsyncDisposable
    {
        private Process? _process;

        public void Start()
        {
            Assert.True(File.Exists("/usr/bin/supervisord"), "supervisord is missing: apt-get install -y supervisor");
            var profile = Path.Combine(dir, "profile");
            File.WriteAllText(conf, $"""
                [unix_http_server]
                file={dir}/supervisor.sock
                chmod=0700

                [supervisord]
                nodaemon=true
                logfile={dir}/supervisord.log
                pidfile={dir}/supervisord.pid
                childlogdir={dir}

                [rpcinterface:supervisor]
                supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

                [supervisorctl]
                serverurl=unix://{dir}/supervisor.sock

                [program:chromium]
                command=/usr/bin/chromium --headless=new --no-sandbox --remote-debugging-port=0 --remote-debugging-address=127.0.0.1 --user-data-dir={profile} --no-first-run --no-default-browser-check --disable-gpu --disable-breakpad --disable-background-networking --disable-component-update --disable-sync about:blank
                environment=HOME="{dir}",XDG_CONFIG_HOME="{dir}/chromium-config"
                autostart=true
                autorestart=true
                startsecs=1
                stopasgroup=true
                killasgroup=true
                stopwaitsecs=5
                stdout_logfile={dir}/chromium.out.log
                stderr_logfile={dir}/chromium.log
                """);
            var info = new ProcessStartInfo("/usr/bin/supervisord") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(conf);
            _process = Process.Start(info) ?? throw new InvalidOperationException("supervisord did not start");
            _process.OutputDataReceived += (_, _) => { };
            _process.ErrorDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        /// <summary>Runs <c>supervisorctl -c CONF ARGS</c> to its end; its output, for the assertion message.</summary>
        public async Task<string> CtlAsync(params string[] args)
        {
            var info = new ProcessStartInfo("/usr/bin/supervisorctl") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(conf);
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }
            using var process = Process.Start(info) ?? throw new InvalidOperationException("supervisorctl did not start");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(Patience);
            await process.WaitForExitAsync(timeout.Token);
            var said = (await stdout + await stderr).Trim();
            output.WriteLine($"supervisorctl {string.Join(' ', args)}: {said}");
            return said;
        }

        /// <summary>Chromium's browser process as supervisord knows it.</summary>
        public async Task<int> ChromiumPidAsync()
        {
            var said = await CtlAsync("pid", "chromium");
            Assert.True(int.TryParse(said, out var pid) && pid > 0, $"supervisorctl pid chromium said: {said}");
            return pid;
        }

        public async ValueTask DisposeAsync()
        {
            if (_process is null)
            {
                return;
            }
            try
            {
                if (!_process.HasExited)
                {
                    await CtlAsync("shutdown");
                    using var timeout = new CancellationTokenSource(Patience);
                    try
                    {
                        await _process.WaitForExitAsync(timeout.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        _process.Kill(entireProcessTree: true);
                    }
                }
                if (File.Exists(Path.Combine(dir, "supervisord.log")))
                {
                    output.WriteLine("supervisord log:\n" + File.ReadAllText(Path.Combine(dir, "supervisord.log")));
                }
                // supervisord stopped Chromium's whole group before it exited: nothing of it may be left.
                var left = ProcessesMentioning(dir).Where(p => !p.Args.Contains(GatewayDll)).ToList();
                Assert.True(left.Count == 0, "left behind by supervisord: " + Describe(left));
            }
            finally
            {
                _process.Dispose();
            }
        }
    }
}
