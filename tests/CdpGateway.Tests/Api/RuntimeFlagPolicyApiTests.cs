using System.Net;
using System.Text;
using System.Text.Json;
using CdpGateway.Hosting;
using CdpGateway.Tests.Browser;

namespace CdpGateway.Tests.Api;

/// <summary>The flag policy behind <c>/chromium/flags</c>, on a real gateway supervising tests/FakeChromium.</summary>
public sealed class RuntimeFlagPolicyApiTests : IAsyncLifetime
{
    private readonly SupervisedGateways _gateways = new();

    private FakeBrowsers _fakes => _gateways.Fakes;

    private HttpClient _http => _gateways.Http;

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xUnit 2 never calls a test class's IAsyncDisposable.
    public async Task DisposeAsync() => await _gateways.DisposeAsync();

    private Task<GatewayApp> StartAsync(Action<GatewayOptions>? configure = null, string? executable = null) =>
        _gateways.StartAsync(configure, executable);

    private async Task<(HttpStatusCode Status, JsonElement Body)> PatchAsync(GatewayApp gateway, params string[] flags)
    {
        using var content = new StringContent(JsonSerializer.Serialize(new { flags }), Encoding.UTF8, "application/json");
        using var response = await _http.PatchAsync(new Uri($"http://127.0.0.1:{gateway.ApiPort}/chromium/flags"), content);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task TheOperatorsAllowanceLetsARefusedFlagThroughButNeverAGatewayOwnedOne()
    {
        var gateway = await StartAsync(o =>
        {
            o.AllowRuntimeFlags.Add("--disable-web-security");
            o.AllowRuntimeFlags.Add("--remote-debugging-address");
        });

        var (allowed, _) = await PatchAsync(gateway, "--disable-web-security");
        var (owned, error) = await PatchAsync(gateway, "--remote-debugging-address=0.0.0.0");
        var (other, otherError) = await PatchAsync(gateway, "--allow-file-access-from-files");

        Assert.Equal(HttpStatusCode.OK, allowed);
        Assert.Contains("--disable-web-security", FakeBrowsers.CommandLineOf(gateway.Chromium.Status.Pid!.Value));
        Assert.Equal(HttpStatusCode.BadRequest, owned);
        Assert.Contains("never", error.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, other);
        Assert.Contains("--allow-runtime-flag --allow-file-access-from-files", otherError.GetProperty("error").GetString());
    }

    [Fact]
    public async Task FlagsThatWouldTogetherExceedSixtyFourKibibytesAreRefusedWithoutARestart()
    {
        var gateway = await StartAsync();
        var first = Enumerable.Range(0, 15).Select(i => $"--pad-{i:00}=" + new string('a', 4000)).ToArray();
        var (ok, _) = await PatchAsync(gateway, first);
        Assert.Equal(HttpStatusCode.OK, ok);
        var generation = gateway.Chromium.Status.Generation;

        var (status, error) = await PatchAsync(gateway, "--pad-15=" + new string('a', 4000), "--pad-16=" + new string('a', 4000));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("64 KiB", error.GetProperty("error").GetString());
        Assert.Equal(generation, gateway.Chromium.Status.Generation);
        Assert.Equal(first, gateway.Chromium.Flags);
    }

    [Fact]
    public async Task AFlagChangeWhoseBrowserEndsBeforeAnnouncingIsUndoneAndAnswered422()
    {
        var executable = _fakes.FakeChromium("case \" $* \" in *\" --fake-refuse \"*) echo \"refusing to start\" >&2; exit 3;; esac\n");
        var gateway = await StartAsync(executable: executable);
        var (ok, _) = await PatchAsync(gateway, "--lang=de");
        Assert.Equal(HttpStatusCode.OK, ok);

        var (status, error) = await PatchAsync(gateway, "--fake-refuse");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var message = error.GetProperty("error").GetString();
        Assert.Contains("exit code 3", message);
        Assert.Contains("refusing to start", message);
        Assert.Equal(["--lang=de"], gateway.Chromium.Flags);
        Assert.DoesNotContain("--fake-refuse", File.ReadAllText(Path.Combine(_fakes.DataDir, "flags.json")));
        Assert.True(gateway.Chromium.IsReady);
        Assert.Null(gateway.Chromium.Status.RuntimeFlagsError);
    }

    [Fact]
    public async Task AFlagChangeWhoseBrowserAnnouncesDevToolsButEndsBeforeItIsReadyIsUndoneToo()
    {
        var executable = _fakes.FakeChromium(
            "case \" $* \" in *\" --fake-die-early \"*) echo \"DevTools listening on ws://127.0.0.1:1/devtools/browser/gone\" >&2; sleep 0.3; exit 4;; esac\n");
        var gateway = await StartAsync(executable: executable);

        var (status, error) = await PatchAsync(gateway, "--fake-die-early");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("after announcing DevTools but before answering Browser.getVersion", error.GetProperty("error").GetString());
        Assert.Empty(gateway.Chromium.Flags);
        Assert.True(gateway.Chromium.IsReady);
    }

    [Fact]
    public async Task PersistedFlagsTheBrowserEndsWithAreDroppedAtStartAndReported()
    {
        var executable = _fakes.FakeChromium("case \" $* \" in *\" --fake-refuse \"*) exit 3;; esac\n");
        Directory.CreateDirectory(_fakes.DataDir);
        File.WriteAllText(Path.Combine(_fakes.DataDir, "flags.json"), """{"flags":["--fake-refuse"]}""");

        var gateway = await StartAsync(executable: executable);

        Assert.Empty(gateway.Chromium.Flags);
        Assert.Contains("exit code 3", gateway.Chromium.Status.RuntimeFlagsError);
        Assert.DoesNotContain("--fake-refuse", FakeBrowsers.CommandLineOf(gateway.Chromium.Status.Pid!.Value));
    }

    [Fact]
    public async Task AFlagsFileThatIsNotValidUnicodeIsReportedNotFatal()
    {
        Directory.CreateDirectory(_fakes.DataDir);
        File.WriteAllText(Path.Combine(_fakes.DataDir, "flags.json"), """{"flags":["--lang=\ud800"]}""");

        var gateway = await StartAsync();

        Assert.Empty(gateway.Chromium.Flags);
        Assert.Contains("Unicode", gateway.Chromium.Status.RuntimeFlagsError);
    }
}
