using CdpGateway.Hosting;
using CdpGateway.Telemetry.Nats;

namespace CdpGateway.Tests.Telemetry.Nats;

/// <summary>The <c>--nats-*</c> options: what a user gives, and every bad value or combination as one line naming the option.</summary>
public sealed class NatsOptionTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cdpgw-nats-opts-" + Guid.NewGuid().ToString("N"));

    public NatsOptionTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void NatsOptionsFromArgumentsAndEnvironment_BecomeTheSinksSettings()
    {
        var ca = Path.Combine(_dir, "ca.pem");
        File.WriteAllText(ca, "");
        var env = new Dictionary<string, string> { ["CDPGW_NATS_PASSWORD"] = "pw-from-env", ["CDPGW_NATS_SPOOL_BYTES"] = "1048576" };

        var options = CommandLine.Parse(["--nats-url", "nats://10.0.0.1:4222,nats://10.0.0.2:4222", "--nats-user", "gw", "--nats-ca", ca,
            "--nats-subject-prefix", "fleet.eu-1", "--nats-stream", "CDP_EU", "--nats-stream-max-bytes", "5000000", "--data-dir", _dir], k => env.GetValueOrDefault(k));
        var sink = NatsSinkOptions.From(options)!;

        Assert.Equal("nats://10.0.0.1:4222,nats://10.0.0.2:4222", sink.Url);
        Assert.Equal(("gw", "pw-from-env"), (sink.User, sink.Password));
        Assert.True(sink.UsesTls);
        Assert.Equal("fleet.eu-1", sink.SubjectPrefix);
        Assert.Equal("CDP_EU", sink.StreamName);
        Assert.Equal(5_000_000, sink.StreamMaxBytes);
        Assert.Equal(1_048_576, sink.SpoolBytes);
        Assert.Equal(Path.Combine(_dir, "nats-spool"), sink.SpoolDirectory);
        Assert.Equal("fleet.eu-1.gw-1.connection.cdp_connect", NatsNaming.Subject(sink.SubjectPrefix, "gw-1", "connection", "cdp_connect"));
        Assert.Equal("gw-1:0123456789ab:42", NatsNaming.MsgId("gw-1", "0123456789ab", 42));
    }

    [Fact]
    public void WithoutNatsUrl_TheSinkIsOff_AndDefaultsAreDocumented()
    {
        var options = CommandLine.Parse([], _ => null);

        Assert.Null(NatsSinkOptions.From(options));
        Assert.Equal("cdp", options.NatsSubjectPrefix);
        Assert.Equal("CDP", options.NatsStream);
        Assert.Equal(268_435_456, options.NatsSpoolBytes);
        Assert.Equal(1L << 30, options.NatsStreamMaxBytes);
        foreach (var name in new[] { "--nats-url", "--nats-token", "--nats-user", "--nats-password", "--nats-creds", "--nats-ca", "--nats-subject-prefix", "--nats-stream", "--nats-stream-max-bytes", "--nats-spool-bytes" })
        {
            Assert.Contains(name, CommandLine.Usage());
        }
    }

    [Theory]
    [InlineData(new[] { "--nats-url", "http://127.0.0.1:4222" }, "--nats-url")]
    [InlineData(new[] { "--nats-url", "127.0.0.1:4222" }, "--nats-url")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222,ftp://x" }, "--nats-url")]
    [InlineData(new[] { "--nats-url", "nats://user:hunter2@127.0.0.1:4222" }, "--nats-url")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-subject-prefix", "cdp.*" }, "--nats-subject-prefix")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-subject-prefix", "cdp..x" }, "--nats-subject-prefix")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-subject-prefix", "cdp.>" }, "--nats-subject-prefix")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-subject-prefix", "" }, "--nats-subject-prefix")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-stream", "CDP.X" }, "--nats-stream")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-stream", "a/b" }, "--nats-stream")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-stream-max-bytes", "0" }, "--nats-stream-max-bytes")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-spool-bytes", "-1" }, "--nats-spool-bytes")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-spool-bytes", "lots" }, "--nats-spool-bytes")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-user", "gw" }, "--nats-password")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-password", "pw" }, "--nats-user")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-token", "t", "--nats-user", "gw", "--nats-password", "pw" }, "--nats-token")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-creds", "/nonexistent/gw.creds" }, "--nats-creds")]
    [InlineData(new[] { "--nats-url", "nats://127.0.0.1:4222", "--nats-ca", "/nonexistent/ca.pem" }, "--nats-ca")]
    [InlineData(new[] { "--nats-token", "t" }, "--nats-url")]
    public void BadNatsInput_IsOneLineNamingTheOption(string[] args, string named)
    {
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse(args, _ => null));

        Assert.Contains(named, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.DoesNotContain("hunter2", error.Message);
    }

    [Fact]
    public void BadNatsVariable_IsAnErrorNamingTheVariableAndTheOption()
    {
        var error = Assert.Throws<OptionException>(() => CommandLine.Parse([], k => k == "CDPGW_NATS_URL" ? "redis://x" : null));

        Assert.Contains("CDPGW_NATS_URL (--nats-url)", error.Message);
    }
}
