using System.Net;
using System.Text;
using CdpGateway.Tests.EndToEnd;
using Xunit.Abstractions;
using static CdpGateway.Tests.EndToEnd.GatewayProcess;
using static CdpGateway.Tests.Security.PermissionWalk;

namespace CdpGateway.Tests.Security;

/// <summary>
/// What the gateway and its Chromium leave on disk, against the real gateway process and Debian's Chromium:
/// nothing a local user other than the owner can open, DevToolsActivePort (the way around the gateway's
/// token to Chromium's own DevTools) least of all.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class FilePermissionEndToEndTests(ITestOutputHelper output)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(120) };

    private static string DevToolsActivePort(GatewayProcess gateway) => Path.Combine(gateway.DataDir, "profile", "DevToolsActivePort");

    [Fact]
    public async Task DevToolsActivePortIsPrivate()
    {
        await using var gateway = Start(output);
        var url = await gateway.WaitHealthyAsync();

        var port = File.ReadAllLines(DevToolsActivePort(gateway))[0];
        Assert.Contains(":" + port + "/", url, StringComparison.Ordinal);
        Assert.Equal("0600", OctalOf(DevToolsActivePort(gateway)));
        Assert.Equal("0700", OctalOf(Path.Combine(gateway.DataDir, "profile")));
        Assert.Equal("0700", OctalOf(gateway.DataDir));
    }

    [Fact]
    public async Task ChromiumRunsWithAPrivateUmaskAndStillIsThePidTheGatewayStartedLeadingItsGroup()
    {
        await using var gateway = Start(output);
        await gateway.WaitHealthyAsync();

        var status = await gateway.GetJsonAsync(gateway.ApiHttp("/chromium"));
        var pid = gateway.ChromiumBrowserPid();
        Assert.Equal(pid, status.GetProperty("pid").GetInt32());
        var chain = status.GetProperty("command_line").EnumerateArray().Select(a => a.GetString()).ToList();
        Assert.Equal("/bin/sh", chain[0]);
        Assert.Contains("umask 077", chain[2], StringComparison.Ordinal);
        var procStatus = File.ReadAllLines($"/proc/{pid}/status");
        Assert.Contains("Umask:\t0077", procStatus);
        // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces, so read after the last ')'.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        Assert.Equal(pid, int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task NothingUnderTheDataDirNorTheEventsFileIsOpenToGroupOrOthers()
    {
        await using var gateway = Start(output);
        var first = await gateway.WaitHealthyAsync();

        // A tab, so the profile has more in it than a fresh browser writes.
        using (var browser = await CdpSocket.ConnectAsync(gateway.CdpWs()))
        {
            await browser.CallAsync("Target.createTarget", """{"url":"data:text/html,<title>files</title><script>localStorage.setItem('k','v')</script>"}""");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        // A flag change writes flags.json and restarts Chromium, which writes its files anew.
        using (var response = await Http.PatchAsync(gateway.ApiHttp("/chromium/flags"),
            new StringContent("""{"flags":["--lang=de"]}""", Encoding.UTF8, "application/json")))
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"PATCH answered {(int)response.StatusCode}: {body}");
        }
        await gateway.WaitHealthyAsync(notUrl: first);

        Assert.True(File.Exists(Path.Combine(gateway.DataDir, "flags.json")));
        Assert.True(File.Exists(DevToolsActivePort(gateway)));
        Assert.True(Directory.EnumerateFileSystemEntries(Path.Combine(gateway.DataDir, "profile", "Default")).Any());
        AssertNothingOpen(gateway.DataDir);
        Assert.Equal("0600", OctalOf(gateway.EventsFile));
    }

    [Fact]
    public async Task AnOlderInstallsOpenDataDirAndProfileAreTightened()
    {
        await using var gateway = Start(output, dir =>
        {
            // As an older gateway left them: the directories 0755, Chromium's files 0644.
            var profile = Path.Combine(dir.DataDir, "profile");
            Directory.CreateDirectory(Path.Combine(profile, "Default"));
            File.WriteAllText(Path.Combine(profile, "DevToolsActivePort"), "1\n/devtools/browser/stale\n");
            File.WriteAllText(Path.Combine(profile, "Default", "Preferences"), "{}");
            File.WriteAllText(Path.Combine(dir.DataDir, "flags.json"), """{"flags":[]}""");
            foreach (var path in new[] { dir.DataDir, profile, Path.Combine(profile, "Default") })
            {
                File.SetUnixFileMode(path, Mode("0755"));
            }
            return [];
        });
        await gateway.WaitHealthyAsync();

        Assert.Equal("0700", OctalOf(gateway.DataDir));
        Assert.Equal("0700", OctalOf(Path.Combine(gateway.DataDir, "profile")));
        Assert.Equal("0600", OctalOf(DevToolsActivePort(gateway)));
        AssertNothingOpen(gateway.DataDir);
    }

    [Fact]
    public async Task EventsFileModeOptionGivesTheEventsFileThatMode()
    {
        await using var gateway = Start(output, "--events-file-mode", "0640");
        await gateway.WaitForApiAsync();

        Assert.Equal("0640", OctalOf(gateway.EventsFile));
    }
}
