using CdpGateway.Browser;

namespace CdpGateway.Tests.Browser;

public sealed class FlagPolicyTests
{
    private static readonly FlagPolicy Default = new([], runsWithoutSandbox: false);

    [Theory]
    [InlineData("--renderer-cmd-prefix=/bin/sh -c \"touch /tmp/x; exec \\\"$@\\\"\" --", FlagClass.RunsCode)]
    [InlineData("--utility-cmd-prefix=/bin/sh", FlagClass.RunsCode)]
    [InlineData("--zygote-cmd-prefix=gdb --args", FlagClass.RunsCode)]
    [InlineData("--gpu-launcher=/bin/sh", FlagClass.RunsCode)]
    [InlineData("--ppapi-plugin-launcher=/bin/sh", FlagClass.RunsCode)]
    [InlineData("--plugin-launcher=/bin/sh", FlagClass.RunsCode)]
    [InlineData("--browser-subprocess-path=/bin/sh", FlagClass.RunsCode)]
    [InlineData("--load-extension=/tmp/ext", FlagClass.RunsCode)]
    [InlineData("--disable-extensions-except=/tmp/ext", FlagClass.RunsCode)]
    [InlineData("--load-component-extension=/tmp/ext", FlagClass.RunsCode)]
    [InlineData("--utility-sub-type=x", FlagClass.RunsCode)]
    [InlineData("--nacl-gdb=/usr/bin/gdb", FlagClass.RunsCode)]
    [InlineData("--nacl-gdb-script=/tmp/s", FlagClass.RunsCode)]
    [InlineData("--register-pepper-plugins=/tmp/p.so", FlagClass.RunsCode)]
    [InlineData("--ppapi-flash-path=/tmp/p.so", FlagClass.RunsCode)]
    [InlineData("--custom-devtools-frontend=file:///tmp/front", FlagClass.RunsCode)]
    [InlineData("--mojo-core-library-path=/tmp/m.so", FlagClass.RunsCode)]
    [InlineData("--type=renderer", FlagClass.RunsCode)]
    [InlineData("--debug", FlagClass.RunsCode)]
    [InlineData("--js-flags=--logfile=/tmp/v8.log --prof", FlagClass.RunsCode)]
    [InlineData("--js-flags=--max-old-space-size=4096 --prof", FlagClass.RunsCode)]
    [InlineData("--js-flags=--max-old-space-size=\"4096 --prof\"", FlagClass.RunsCode)]
    [InlineData("--log-file=/tmp/chromium.log", FlagClass.WritesFiles)]
    [InlineData("--enable-logging", FlagClass.WritesFiles)]
    [InlineData("--enable-logging=/tmp/x", FlagClass.WritesFiles)]
    [InlineData("--enable-logging=file", FlagClass.WritesFiles)]
    [InlineData("--net-log=/tmp/n.json", FlagClass.WritesFiles)]
    [InlineData("--log-net-log=/tmp/n.json", FlagClass.WritesFiles)]
    [InlineData("--net-log-capture-mode=Everything", FlagClass.WritesFiles)]
    [InlineData("--trace-startup-file=/tmp/t.json", FlagClass.WritesFiles)]
    [InlineData("--enable-tracing-output=/tmp/t.json", FlagClass.WritesFiles)]
    [InlineData("--crash-dumps-dir=/tmp", FlagClass.WritesFiles)]
    [InlineData("--disk-cache-dir=/tmp", FlagClass.WritesFiles)]
    [InlineData("--media-cache-dir=/tmp", FlagClass.WritesFiles)]
    [InlineData("--ssl-key-log-file=/tmp/keys", FlagClass.WritesFiles)]
    [InlineData("--screenshot=/tmp/s.png", FlagClass.WritesFiles)]
    [InlineData("--print-to-pdf=/tmp/p.pdf", FlagClass.WritesFiles)]
    [InlineData("--profile-directory=../../x", FlagClass.WritesFiles)]
    [InlineData("--use-file-for-fake-video-capture=/etc/shadow", FlagClass.ReadsFiles)]
    [InlineData("--use-file-for-fake-audio-capture=/etc/shadow", FlagClass.ReadsFiles)]
    [InlineData("--file-url-path-alias=/a=/etc", FlagClass.ReadsFiles)]
    [InlineData("--some-future-config-file=/etc/x", FlagClass.HostPath)]
    [InlineData("--some-future-output-dir=/tmp", FlagClass.HostPath)]
    [InlineData("--remote-allow-origins=*", FlagClass.WeakensSecurity)]
    [InlineData("--disable-web-security", FlagClass.WeakensSecurity)]
    [InlineData("--allow-running-insecure-content", FlagClass.WeakensSecurity)]
    [InlineData("--allow-file-access-from-files", FlagClass.WeakensSecurity)]
    [InlineData("--disable-site-isolation-trials", FlagClass.WeakensSecurity)]
    [InlineData("--single-process", FlagClass.WeakensSecurity)]
    [InlineData("--no-sandbox", FlagClass.WeakensSecurity)]
    [InlineData("--disable-setuid-sandbox", FlagClass.WeakensSecurity)]
    [InlineData("--disable-gpu-sandbox", FlagClass.WeakensSecurity)]
    [InlineData("--disable-seccomp-filter-sandbox", FlagClass.WeakensSecurity)]
    [InlineData("--no-zygote-sandbox", FlagClass.WeakensSecurity)]
    [InlineData("--enable-blink-features=Foo,MojoJS", FlagClass.WeakensSecurity)]
    [InlineData("--disable-features=Translate,IsolateOrigins,site-per-process", FlagClass.WeakensSecurity)]
    [InlineData("--ignore-certificate-errors", FlagClass.WeakensSecurity)]
    [InlineData("--isolated-app-origins=https://evil.example", FlagClass.WeakensSecurity)]
    [InlineData("--explicitly-allowed-ports=22,25", FlagClass.WeakensSecurity)]
    [InlineData("--enable-unsafe-webgpu", FlagClass.WeakensSecurity)]
    [InlineData("--allow-insecure-websocket-from-https-origin", FlagClass.WeakensSecurity)]
    [InlineData("--load-media-router-component-extension=1", FlagClass.RunsCode)]
    [InlineData("--remote-debugging-address=0.0.0.0", FlagClass.GatewayOwned)]
    [InlineData("--REMOTE-DEBUGGING-ADDRESS=0.0.0.0", FlagClass.GatewayOwned)]
    [InlineData("--remote-debugging-port=9333", FlagClass.GatewayOwned)]
    [InlineData("--remote-debugging-pipe", FlagClass.GatewayOwned)]
    [InlineData("--user-data-dir=/tmp/p", FlagClass.GatewayOwned)]
    [InlineData("--temp-profile", FlagClass.GatewayOwned)]
    public void RefusedFlagsAreRefusedWithTheirClass(string flag, FlagClass expected)
    {
        var refusal = Default.Check(flag);
        Assert.NotNull(refusal);
        Assert.Equal(expected, refusal.Class);
        Assert.Contains(FlagPolicy.NameOf(flag), refusal.Message);
    }

    [Theory]
    [InlineData("--user-agent=x")]
    [InlineData("--lang=de")]
    [InlineData("--window-size=800,600")]
    [InlineData("--enable-logging=stderr")]
    [InlineData("--js-flags=--max-old-space-size=4096")]
    [InlineData("--js-flags=--max_old_space_size=4096 --expose-gc --jitless")]
    [InlineData("--js-flags=")]
    [InlineData("--proxy-server=http://proxy:3128")]
    [InlineData("--disable-features=Translate")]
    [InlineData("--enable-blink-features=CSSFoo")]
    [InlineData("--v=1")]
    [InlineData("--version")]
    public void HarmlessFlagsAreAccepted(string flag) => Assert.Null(Default.Check(flag));

    [Fact]
    public void RendererCommandPrefixIsRefused()
    {
        var refusal = Default.Check("--renderer-cmd-prefix=/bin/sh -c \"touch /tmp/marker; exec \\\"$@\\\"\" --");
        Assert.NotNull(refusal);
        Assert.Equal("--renderer-cmd-prefix", refusal.Name);
        Assert.Contains("runs a program", refusal.Message);
        Assert.Contains("--allow-runtime-flag --renderer-cmd-prefix", refusal.Message);
        Assert.DoesNotContain("/tmp/marker", refusal.Message);
    }

    [Fact]
    public void UpperCaseNamesAreCheckedLikeLowerCase()
    {
        Assert.Equal(FlagClass.RunsCode, Default.Check("--Renderer-CMD-Prefix=/bin/sh")?.Class);
        Assert.Equal(FlagClass.WeakensSecurity, Default.Check("--DISABLE-WEB-SECURITY")?.Class);
        Assert.Equal(FlagClass.GatewayOwned, Default.Check("--REMOTE-DEBUGGING-ADDRESS=0.0.0.0")?.Class);
    }

    [Fact]
    public void TheOperatorCanAllowARefusedFlagByName()
    {
        var policy = new FlagPolicy(["--renderer-cmd-prefix", "--DISABLE-WEB-SECURITY", "js-flags"], runsWithoutSandbox: false);
        Assert.Null(policy.Check("--renderer-cmd-prefix=valgrind"));
        Assert.Null(policy.Check("--disable-web-security"));
        Assert.Null(policy.Check("--js-flags=--prof"));
        Assert.NotNull(policy.Check("--utility-cmd-prefix=valgrind"));
        Assert.Empty(policy.Unallowable);
    }

    [Fact]
    public void TheGatewaysOwnFlagsCannotBeAllowed()
    {
        var policy = new FlagPolicy(["--remote-debugging-address", "--user-data-dir", "--lang"], runsWithoutSandbox: false);
        Assert.Equal(["--remote-debugging-address", "--user-data-dir"], policy.Unallowable);
        var refusal = policy.Check("--remote-debugging-address=0.0.0.0");
        Assert.Equal(FlagClass.GatewayOwned, refusal?.Class);
        Assert.Contains("never", refusal!.Message);
        Assert.Equal(FlagClass.GatewayOwned, policy.Check("--user-data-dir=/tmp/x")?.Class);
    }

    [Fact]
    public void NoSandboxIsAcceptedOnlyWhenTheGatewayRunsChromiumWithoutItAnyway()
    {
        Assert.Null(new FlagPolicy([], runsWithoutSandbox: true).Check("--no-sandbox"));
        Assert.NotNull(new FlagPolicy([], runsWithoutSandbox: true).Check("--disable-setuid-sandbox"));
        Assert.NotNull(Default.Check("--no-sandbox"));
    }

    [Fact]
    public void AFlagOverFourKibibytesIsRefusedWhateverItIs()
    {
        var allowAll = new FlagPolicy(["--x"], runsWithoutSandbox: false);
        Assert.Null(allowAll.Check("--x=" + new string('a', FlagPolicy.MaxFlagBytes - 4)));
        var refusal = allowAll.Check("--x=" + new string('a', FlagPolicy.MaxFlagBytes - 3));
        Assert.Equal(FlagClass.TooLong, refusal?.Class);
        Assert.Contains("4 KiB", refusal!.Message);
        // Counted in UTF-8 bytes, not characters.
        Assert.Equal(FlagClass.TooLong, Default.Check("--user-agent=" + new string('é', 2100))?.Class);
        // A long name is not echoed whole.
        Assert.True(Default.Check("--" + new string('n', 200_000))!.Message.Length < 400);
    }

    [Fact]
    public void ASetOverSixtyFourKibibytesIsRefused()
    {
        var flags = Enumerable.Range(0, 16).Select(i => $"--pad-{i:00}=" + new string('a', 4000)).ToList();
        Assert.Null(Default.Check(flags));
        flags.Add("--pad-16=" + new string('a', 2000));
        var refusal = Default.Check(flags);
        Assert.Equal(FlagClass.TooLong, refusal?.Class);
        Assert.Contains("64 KiB", refusal!.Message);
    }

    [Fact]
    public void LogsNameFlagsWithoutTheirValues() =>
        Assert.Equal("--user-agent --lang --no-sandbox", FlagPolicy.Names(["--user-agent=secret", "--lang=de", "--no-sandbox"]));
}
