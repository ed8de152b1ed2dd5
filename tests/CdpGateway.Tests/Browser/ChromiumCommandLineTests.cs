using System.Text.Json;
using CdpGateway.Browser;
using CdpGateway.Hosting;
using CdpGateway.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace CdpGateway.Tests.Browser;

public sealed class ChromiumCommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cdpgw-cmdline-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private GatewayOptions Options(string flags = "", bool headful = false) =>
        new() { ChromiumFlags = flags, Headful = headful, DataDir = Path.Combine(_dir, "data") };

    [Fact]
    public void ArgumentsHoldTheLaunchFlagsThenTheUserFlagsThenTheRuntimeFlagsThenAboutBlank()
    {
        var args = ChromiumCommandLine.Build(Options("--lang=de  \"--window-size=800,600\" --x=\"a b\""), ["--y", "--lang=fr"]);
        Assert.Equal("--remote-debugging-port=0", args[0]);
        Assert.Contains("--remote-debugging-address=127.0.0.1", args);
        Assert.Contains($"--user-data-dir={Path.Combine(_dir, "data", "profile")}", args);
        Assert.Contains("--headless=new", args);
        Assert.All(ChromiumCommandLine.DefaultFlags, f => Assert.Contains(f, args));
        Assert.Equal(Environment.UserName == "root", args.Contains("--no-sandbox"));
        Assert.Equal(["--window-size=800,600", "--x=a b", "--y", "--lang=fr", "about:blank"], args.Skip(args.Count - 5));
        Assert.DoesNotContain("--lang=de", args);

        Assert.DoesNotContain("--headless=new", ChromiumCommandLine.Build(Options(headful: true), []));
    }

    [Theory]
    [InlineData("", new string[0])]
    [InlineData("  --a   --b=1 ", new[] { "--a", "--b=1" })]
    [InlineData("--a=\"x y\" \"--c d\" \"\"", new[] { "--a=x y", "--c d", "" })]
    public void SplitsFlagsOnWhitespaceRespectingDoubleQuotes(string flags, string[] expected) =>
        Assert.Equal(expected, ChromiumCommandLine.SplitFlags(flags));

    [Fact]
    public void MergingReplacesAFlagGivenAgainAndKeepsTheRestInOrder()
    {
        Assert.Equal(["--b", "--a=2", "--c"], ChromiumCommandLine.Merge(["--a=1", "--b"], ["--a=2", "--c"]));
        Assert.Equal(["--a=3"], ChromiumCommandLine.Merge([], ["--a=1", "--a=3"]));
    }

    [Theory]
    [InlineData("""{"flags":["--ok","-x"]}""", "\"-x\"")]
    [InlineData("""{"flags":[""]}""", "\"\"")]
    [InlineData("""{"flags":["--"]}""", "\"--\"")]
    [InlineData("""{"flags":["--user-data-dir=/tmp/x"]}""", "--user-data-dir")]
    [InlineData("""{"flags":["--remote-debugging-port=9"]}""", "--remote-debugging-port")]
    [InlineData("""{"flags":["--a\nb"]}""", "control character")]
    [InlineData("""{"flags":[1]}""", "1")]
    [InlineData("""{"flags":"--a"}""", "list")]
    [InlineData("""["--a"]""", "{\"flags\"")]
    [InlineData("""{"other":[]}""", "{\"flags\"")]
    public void BadFlagBodiesAreRefusedWithAMessageNamingTheProblem(string body, string named)
    {
        using var doc = JsonDocument.Parse(body);
        Assert.Null(RuntimeFlags.Parse(doc.RootElement, out var error));
        Assert.Contains(named, error);
    }

    [Fact]
    public void FlagsArePersistedAtomicallyAndReadBack()
    {
        var store = new RuntimeFlags(Path.Combine(_dir, "data"));
        Assert.Empty(store.Load()); // no file yet
        store.Save(["--user-agent=Agent/1.0 (X11; Linux)", "--lang=de"]);
        Assert.Equal(["--user-agent=Agent/1.0 (X11; Linux)", "--lang=de"], new RuntimeFlags(Path.Combine(_dir, "data")).Load());
        Assert.Equal([RuntimeFlags.FileName], Directory.GetFiles(Path.Combine(_dir, "data")).Select(Path.GetFileName));

        File.WriteAllText(store.FilePath, "{not json");
        Assert.Throws<InvalidDataException>(() => store.Load());
    }

    [Fact]
    public async Task StaleProfileLocksAreClearedAndALeftoverBrowserOnTheProfileIsKilled()
    {
        var profile = Path.Combine(_dir, "profile");
        Directory.CreateDirectory(profile);
        File.CreateSymbolicLink(Path.Combine(profile, "SingletonCookie"), "123456");
        File.CreateSymbolicLink(Path.Combine(profile, "SingletonSocket"), "/tmp/no-such-socket-dir/SingletonSocket");

        // A leftover "browser" still running on this profile (its own group, as the gateway launches them),
        // named in SingletonLock as HOST-PID; and an unrelated process that must be left alone.
        using var holder = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("setsid")
        {
            ArgumentList = { "/bin/sh", "-c", "sleep 300; :", "chromium", "--user-data-dir=" + profile },
        })!;
        using var bystander = System.Diagnostics.Process.Start("sleep", ["301"])!;
        await Eventually.TrueAsync(() => FakeBrowsers.ProcessGroupOf(holder.Id) == holder.Id, "the holder leads its group");
        File.CreateSymbolicLink(Path.Combine(profile, "SingletonLock"), $"{System.Net.Dns.GetHostName()}-{holder.Id}");

        ProfileLocks.Clear(profile, NullLogger.Instance);

        Assert.Empty(Directory.GetFileSystemEntries(profile));
        // What the kernel says first (killed: dead or a zombie), then the runtime's reaping, with the suite's patience:
        // under the full suite's load the latter once took longer than 10 s, and a timeout there did not say which.
        await Eventually.TrueAsync(() => !FakeBrowsers.ProcessesWith(profile).Any(), "the holder's group is gone");
        await holder.WaitForExitAsync().WaitAsync(FakeBrowsers.Patience);
        Assert.False(bystander.HasExited); // a process not named in the lock is not touched
        bystander.Kill();
    }
}
